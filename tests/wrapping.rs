//! Response wrapping as Vault does it: `X-Vault-Wrap-TTL` turns any answer
//! into a single-use token whose cubbyhole holds it; `sys/wrapping/*`
//! looks it up, unwraps it once, rewraps it. See
//! <https://developer.hashicorp.com/vault/docs/concepts/response-wrapping>.

mod common;

use common::{Reply, Server, ROOT};
use serde_json::{json, Value};

/// A request asking for its answer wrapped for `ttl`.
fn wrapped(s: &Server, method: &str, path: &str, ttl: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| serde_json::to_vec(&b).expect("json"));
    s.send_with_headers(method, path, Some(ROOT), &[("X-Vault-Wrap-TTL", ttl)], body)
}

/// `data` wrapped by `sys/wrapping/wrap` for `ttl`: the wrapping token.
fn wrap_data(s: &Server, ttl: &str, data: Value) -> String {
    wrapping_token(&wrapped(s, "PUT", "sys/wrapping/wrap", ttl, Some(data)))
}

fn wrapping_token(reply: &Reply) -> String {
    reply.json["wrap_info"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("not wrapped: {} {:?}", reply.status, reply.json))
        .to_string()
}

fn unwrap_with(s: &Server, wrapping: &str) -> Reply {
    s.send("PUT", "sys/wrapping/unwrap", Some(wrapping), None)
}

#[test]
fn a_wrapped_answer_is_only_its_wrap_info_and_unwraps_once_to_the_original() {
    let s = Server::dev();
    let reply = wrapped(
        &s,
        "PUT",
        "auth/token/create",
        "90s",
        Some(json!({"policies": ["default"], "meta": {"app": "web"}})),
    );
    assert_eq!(reply.status, 200);
    let body = reply.json.as_object().expect("object");
    assert_eq!(body["request_id"], "");
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["auth"], Value::Null);
    let info = &reply.json["wrap_info"];
    assert_eq!(info["ttl"], 90);
    assert_eq!(info["creation_path"], "auth/token/create");
    assert!(info["creation_time"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let wrapped_accessor = info["wrapped_accessor"]
        .as_str()
        .expect("accessor")
        .to_string();

    let token = wrapping_token(&reply);
    let unwrapped = unwrap_with(&s, &token);
    assert_eq!(unwrapped.status, 200, "{:?}", unwrapped.json);
    assert_eq!(
        unwrapped.json["auth"]["accessor"],
        wrapped_accessor.as_str()
    );
    assert_eq!(unwrapped.json["auth"]["metadata"]["app"], "web");
    let child = unwrapped.client_token();
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &child, None).status,
        200,
        "the wrapped token is live"
    );

    let again = unwrap_with(&s, &token);
    assert_eq!(
        (again.status, again.errors()),
        (
            400,
            vec!["wrapping token is not valid or does not exist".to_string()]
        )
    );
}

#[test]
fn a_wrapping_token_has_the_wrapping_policy_one_use_and_no_parent() {
    let s = Server::dev();
    let reply = wrapped(
        &s,
        "PUT",
        "sys/wrapping/wrap",
        "120",
        Some(json!({"k": "v"})),
    );
    let token = wrapping_token(&reply);
    let seen = s.write("auth/token/lookup", json!({"token": token}));
    assert_eq!(seen.data("policies"), &json!(["response-wrapping"]));
    assert_eq!(seen.data("num_uses"), 1);
    assert_eq!(seen.data("orphan"), true);
    assert_eq!(seen.data("renewable"), false);
    assert_eq!(seen.data("explicit_max_ttl"), 120);
    assert_eq!(seen.data("path"), "sys/wrapping/wrap");

    // The policy lets it unwrap and nothing else.
    let elsewhere = s.send("GET", "sys/mounts", Some(&token), None);
    assert_eq!(elsewhere.status, 403);
    // The built-in policy is readable but neither listed nor assignable.
    let policy = s.read("sys/policy/response-wrapping");
    assert_eq!(policy.status, 200);
    let names = s.read("sys/policy");
    assert!(!names
        .data("keys")
        .as_array()
        .expect("keys")
        .contains(&json!("response-wrapping")));
    let refused = s.write(
        "auth/token/create",
        json!({"policies": ["response-wrapping"]}),
    );
    assert_eq!(
        refused.errors(),
        ["cannot assign policy \"response-wrapping\""]
    );
}

#[test]
fn lookup_needs_no_token_and_leaves_the_use_in_place() {
    let s = Server::dev();
    let token = wrap_data(&s, "5m", json!({"k": "v"}));
    let looked_up = s.send(
        "PUT",
        "sys/wrapping/lookup",
        None,
        Some(serde_json::to_vec(&json!({"token": token})).expect("json")),
    );
    assert_eq!(looked_up.status, 200, "{:?}", looked_up.json);
    assert_eq!(looked_up.data("creation_ttl"), 300);
    assert_eq!(looked_up.data("creation_path"), "sys/wrapping/wrap");
    assert!(looked_up.data("creation_time").is_string());
    let by_query = s.send(
        "GET",
        &format!("sys/wrapping/lookup?token={token}"),
        None,
        None,
    );
    assert_eq!(by_query.status, 200);

    let unwrapped = unwrap_with(&s, &token);
    assert_eq!(unwrapped.data("k"), "v");
}

#[test]
fn a_third_party_unwraps_with_its_own_token_and_the_token_in_the_body() {
    let s = Server::dev();
    let token = wrap_data(&s, "60", json!({"k": "v"}));
    let unwrapped = s.write("sys/wrapping/unwrap", json!({"token": token}));
    assert_eq!(unwrapped.data("k"), "v");
    let lookup = s.write("sys/wrapping/lookup", json!({"token": token}));
    assert_eq!(lookup.status, 400, "spent and revoked");
}

#[test]
fn rewrapping_moves_the_response_to_a_new_token_with_the_old_ttl_and_path() {
    let s = Server::dev();
    let old = wrap_data(&s, "77", json!({"k": "v"}));
    let reply = s.write("sys/wrapping/rewrap", json!({"token": old}));
    assert_eq!(reply.json["wrap_info"]["ttl"], 77);
    assert_eq!(
        reply.json["wrap_info"]["creation_path"],
        "sys/wrapping/wrap"
    );
    let new = wrapping_token(&reply);
    assert_ne!(new, old);
    assert_eq!(unwrap_with(&s, &old).status, 400);
    assert_eq!(unwrap_with(&s, &new).data("k"), "v");
}

#[test]
fn refusals_have_vaults_texts_and_statuses() {
    let s = Server::dev();
    let cases: &[(&str, Option<&str>, Value, u16, &str)] = &[
        (
            "sys/wrapping/unwrap",
            None,
            json!({}),
            403,
            "error validating wrapping token: token is empty",
        ),
        (
            "sys/wrapping/lookup",
            None,
            json!({"token": ""}),
            403,
            "error validating wrapping token: empty token in request body",
        ),
        (
            "sys/wrapping/unwrap",
            None,
            json!({"token": 5}),
            403,
            "error validating wrapping token: could not decode token in request body",
        ),
        (
            "sys/wrapping/unwrap",
            Some(ROOT),
            json!({}),
            400,
            "wrapping token is not valid or does not exist",
        ),
        (
            "sys/wrapping/lookup",
            None,
            json!({"token": "nope"}),
            400,
            "wrapping token is not valid or does not exist",
        ),
        (
            "sys/wrapping/rewrap",
            Some(ROOT),
            json!({"token": ROOT}),
            400,
            "wrapping token is not valid or does not exist",
        ),
        (
            "sys/wrapping/wrap",
            Some(ROOT),
            json!({"a": 1}),
            400,
            "endpoint requires response wrapping to be used",
        ),
    ];
    for (path, token, body, status, error) in cases {
        let reply = s.send(
            "PUT",
            path,
            *token,
            Some(serde_json::to_vec(body).expect("json")),
        );
        assert_eq!(
            (reply.status, reply.errors()),
            (*status, vec![error.to_string()]),
            "{path} {body}"
        );
    }
    for (ttl, error) in [
        (
            "abc",
            "error parsing X-Vault-Wrap-TTL header: time: invalid duration \"abc\"",
        ),
        (
            "-5",
            "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative",
        ),
    ] {
        let reply = wrapped(&s, "GET", "sys/mounts/secret/tune", ttl, None);
        assert_eq!(
            (reply.status, reply.errors()),
            (400, vec![error.to_string()])
        );
    }
    // A TTL of zero asks for nothing.
    let plain = wrapped(&s, "GET", "sys/mounts/secret/tune", "0", None);
    assert_eq!(plain.data("max_lease_ttl"), 2764800);
    // Nothing to wrap: nothing comes back.
    let empty = wrapped(
        &s,
        "PUT",
        "sys/policies/acl/p",
        "60",
        Some(json!({"policy": "path \"a\" { capabilities = [\"read\"] }"})),
    );
    assert_eq!(empty.status, 204);
}

#[test]
fn lists_and_raw_answers_unwrap_as_they_were() {
    let s = Server::dev();
    let token = wrapping_token(&wrapped(&s, "LIST", "sys/policies/acl", "60", None));
    let listed = unwrap_with(&s, &token);
    assert_eq!(listed.data("keys"), &json!(["default", "root"]));

    s.write("sys/mounts/pki", json!({"type": "pki"}));
    s.write(
        "pki/root/generate/internal",
        json!({"common_name": "example.com"}),
    );
    let plain = s.send("GET", "pki/ca/pem", None, None);
    assert_eq!(plain.status, 200);
    let token = wrapping_token(&wrapped(&s, "GET", "pki/ca/pem", "60", None));
    let unwrapped = unwrap_with(&s, &token);
    assert_eq!(unwrapped.status, 200);
    assert_eq!(unwrapped.raw, plain.raw);
}

#[test]
fn a_policy_wrapping_ttl_demands_a_wrapped_request_within_bounds() {
    let s = Server::dev();
    let policy = r#"path "secret/data/w" { capabilities = ["create", "update", "read"] max_wrapping_ttl = "2m" }"#;
    s.write("sys/policies/acl/w", json!({"policy": policy}));
    let user = s
        .write("auth/token/create", json!({"policies": ["w"]}))
        .client_token();
    s.write("secret/data/w", json!({"data": {"k": "v"}}));
    let read = |ttl: Option<&str>| {
        let headers: Vec<(&str, &str)> = ttl.map(|t| ("X-Vault-Wrap-TTL", t)).into_iter().collect();
        s.send_with_headers("GET", "secret/data/w", Some(&user), &headers, None)
    };
    assert_eq!(read(None).status, 403);
    assert_eq!(read(Some("3m")).status, 403);
    let ok = read(Some("1m"));
    assert_eq!(ok.status, 200);
    assert_eq!(
        unwrap_with(&s, &wrapping_token(&ok)).json["data"]["data"]["k"],
        "v"
    );
}

#[test]
fn of_sixteen_concurrent_unwraps_exactly_one_gets_the_secret() {
    let s = Server::dev();
    for third_party in [false, true] {
        let token = wrap_data(&s, "60", json!({"secret": "only once"}));
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    scope.spawn(|| {
                        if third_party {
                            s.write("sys/wrapping/unwrap", json!({"token": token}))
                                .status
                        } else {
                            unwrap_with(&s, &token).status
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 400 | 403)),
            "{statuses:?}"
        );
    }
}

#[test]
fn the_wrapped_response_is_readable_the_old_way_with_a_warning() {
    let s = Server::dev();
    let token = wrap_data(&s, "60", json!({"k": "v"}));
    let read = s.send("GET", "cubbyhole/response", Some(&token), None);
    assert_eq!(read.status, 200);
    let original: Value =
        serde_json::from_str(read.data("response").as_str().expect("string")).expect("json");
    assert_eq!(original["data"]["k"], "v");
    assert_eq!(
        read.warnings(),
        ["Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap responses, as it provides additional security checks and other benefits."]
    );
}

#[test]
fn the_jwt_format_is_refused_rather_than_answered_in_the_clear() {
    let s = Server::dev();
    let reply = s.send_with_headers(
        "POST",
        "auth/token/create",
        Some(ROOT),
        &[("X-Vault-Wrap-TTL", "60"), ("X-Vault-Wrap-Format", "jwt")],
        Some(b"{}".to_vec()),
    );
    assert_eq!(reply.status, 400, "{:?}", reply.json);
    assert!(reply.json["auth"].is_null(), "no token handed out");
}
