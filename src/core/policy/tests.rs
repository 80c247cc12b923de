//! End-to-end tests through the public API: parse → merge → decide.
//!
//! Many cases restate the behaviour pinned down by Vault's own ACL tests
//! (priority between wildcard rules, layering of policies, parameter
//! checks), so a change that drifts from Vault shows up here.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use Capability::*;

fn policy(name: &str, text: &str) -> Policy {
    Policy::parse(name, text).unwrap_or_else(|e| panic!("policy {name} should parse: {e}"))
}

fn acl(texts: &[&str]) -> Acl {
    let policies: Vec<Policy> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| policy(&format!("p{i}"), t))
        .collect();
    let refs: Vec<&Policy> = policies.iter().collect();
    Acl::new(&refs, false)
}

fn no_data() -> Map<String, Value> {
    Map::new()
}

fn data(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("request data must be an object, got {other}"),
    }
}

fn allowed(acl: &Acl, op: Capability, path: &str) -> bool {
    acl.allow(path, op, &no_data()).allowed
}

/// (operation, path, allowed, sudo)
type Case = (Capability, &'static str, bool, bool);

fn check_cases(acl: &Acl, cases: &[Case]) {
    for &(op, path, want_allowed, want_sudo) in cases {
        let got = acl.allow(path, op, &no_data());
        assert_eq!(
            (got.allowed, got.sudo),
            (want_allowed, want_sudo),
            "{op} {path}: got {got:?}"
        );
        assert!(!got.root);
    }
}

/// Globs, legacy levels and `+` rules of every shape.
const MIXED: &str = r#"
name = "DeV"
path "dev/*" { policy = "sudo" }
path "stage/*" { policy = "write" }
path "stage/aws/*" {
  policy       = "read"
  capabilities = ["update", "sudo"]
}
path "stage/aws/policy/*" { policy = "sudo" }
path "prod/*" { policy = "read" }
path "prod/aws/*" { policy = "deny" }
path "sys/*" { policy = "deny" }
path "foo/bar" { capabilities = ["read", "create", "sudo"] }
path "baz/quux" { capabilities = ["read", "create", "patch"] }
path "test/+/segment" { capabilities = ["read"] }
path "+/segment/at/front" { capabilities = ["read"] }
path "test/segment/at/end/+" { capabilities = ["read"] }
path "test/segment/at/end/v2/+/" { capabilities = ["read"] }
path "test/+/wildcard/+/*" { capabilities = ["read"] }
path "test/+/wildcardglob/+/end*" { capabilities = ["read"] }
path "1/2/*" { capabilities = ["create"] }
path "1/2/+" { capabilities = ["read"] }
path "1/2/+/+" { capabilities = ["update", "recover"] }
"#;

/// Layered on top of [`MIXED`]: denies and widenings.
const OVERLAY: &str = r#"
path "dev/hide/*" { policy = "deny" }
path "stage/aws/policy/*" {
  policy = "deny"
  # deny makes this irrelevant
  capabilities = ["read", "update", "sudo"]
}
path "prod/*" { policy = "write" }
path "sys/seal" { policy = "sudo" }
path "foo/bar" { capabilities = ["deny"] }
path "baz/quux" { capabilities = ["deny"] }
"#;

#[test]
fn single_policy_decisions() {
    let acl = acl(&[MIXED]);
    check_cases(
        &acl,
        &[
            (Read, "root", false, false),
            (Read, "dev/foo", true, true),
            (Update, "dev/foo", true, true),
            (Delete, "stage/foo", true, false),
            (List, "stage/aws/foo", true, true),
            (Update, "stage/aws/foo", true, true),
            (Update, "stage/aws/policy/foo", true, true),
            (Delete, "prod/foo", false, false),
            (Update, "prod/foo", false, false),
            (Read, "prod/foo", true, false),
            (List, "prod/foo", true, false),
            (Read, "prod/aws/foo", false, false),
            (Read, "foo/bar", true, true),
            (List, "foo/bar", false, true),
            (Update, "foo/bar", false, true),
            (Create, "foo/bar", true, true),
            (Read, "baz/quux", true, false),
            (Create, "baz/quux", true, false),
            (Patch, "baz/quux", true, false),
            (List, "baz/quux", false, false),
            (Update, "baz/quux", false, false),
            // `+` takes exactly one segment.
            (Read, "test/foo/bar/segment", false, false),
            (Read, "test/foo/segment", true, false),
            (Read, "test/bar/segment", true, false),
            (Read, "test/segment/at/frond", false, false),
            (Read, "test/segment/at/front", true, false),
            (Read, "test/segment/at/end/foo", true, false),
            (Read, "test/segment/at/end/foo/", false, false),
            (Read, "test/segment/at/end/v2/foo/", true, false),
            (Read, "test/segment/wildcard/at/foo/", true, false),
            (Read, "test/segment/wildcard/at/end", true, false),
            (Read, "test/segment/wildcard/at/end/", true, false),
            // `+` rules against a glob on the same prefix.
            (Read, "1/2/3/4", false, false),
            (Read, "1/2/3", true, false),
            (Update, "1/2/3", false, false),
            (Update, "1/2/3/4", true, false),
            (Create, "1/2/3/4/5", true, false),
            (Recover, "1/2/3/4", true, false),
        ],
    );
}

#[test]
fn layered_policies_union_and_deny_wins() {
    let acl = acl(&[MIXED, OVERLAY]);
    check_cases(
        &acl,
        &[
            (Read, "root", false, false),
            (Read, "dev/foo", true, true),
            (Update, "dev/foo", true, true),
            (Read, "dev/hide/foo", false, false),
            (Update, "dev/hide/foo", false, false),
            (Delete, "stage/foo", true, false),
            (List, "stage/aws/foo", true, true),
            (Update, "stage/aws/foo", true, true),
            (Update, "stage/aws/policy/foo", false, false),
            (Delete, "prod/foo", true, false),
            (Update, "prod/foo", true, false),
            (Read, "prod/foo", true, false),
            (List, "prod/foo", true, false),
            (Read, "prod/aws/foo", false, false),
            (Read, "sys/status", false, false),
            (Update, "sys/seal", true, true),
            (Read, "foo/bar", false, false),
            (List, "foo/bar", false, false),
            (Update, "foo/bar", false, false),
            (Create, "foo/bar", false, false),
            (Read, "baz/quux", false, false),
            (Create, "baz/quux", false, false),
            (Patch, "baz/quux", false, false),
        ],
    );
    // Order of policies does not matter.
    let reversed = self::acl(&[OVERLAY, MIXED]);
    for path in [
        "foo/bar",
        "dev/hide/x",
        "prod/foo",
        "sys/seal",
        "stage/aws/policy/x",
    ] {
        assert_eq!(
            acl.capabilities(path),
            reversed.capabilities(path),
            "{path}"
        );
    }
}

#[test]
fn wildcard_priority_follows_vault_comparator() {
    // In each pair the second rule is more specific and must be the one used.
    let pairs = [
        // '*' beats '+/*': same first-wildcard position, fewer `+` segments.
        ("+/*", "*", "foo/bar/bar/baz"),
        // Later first wildcard wins.
        ("+/*", "foo/+/*", "foo/bar/bar/baz"),
        // Fewer `+` segments win.
        ("foo/+/+/*", "foo/+/bar/baz", "foo/bar/bar/baz"),
        ("foo/+/+/baz", "foo/+/bar/baz", "foo/bar/bar/baz"),
        // First wildcard position beats lexicographic order ('(' < '+').
        ("foo/+/(ar/baz", "foo/(ar/+/baz", "foo/(ar/(ar/baz"),
        // A trailing glob loses to the same pattern without it.
        ("foo/bar/+/baz*", "foo/bar/+/baz", "foo/bar/bar/baz"),
        // A shorter glob loses.
        ("foo/bar/+/b*", "foo/bar/+/ba*", "foo/bar/bar/baz"),
        // Longest prefix glob wins among plain globs.
        ("foo/*", "foo/bar/*", "foo/bar/baz"),
        // A glob whose prefix runs past the `+` position wins.
        ("foo/+/baz", "foo/ba*", "foo/bar/baz"),
    ];
    for (weaker, stronger, path) in pairs {
        let text = format!(
            "path \"{weaker}\" {{ capabilities = [\"read\"] }}\npath \"{stronger}\" {{ capabilities = [\"update\"] }}\n"
        );
        let acl = acl(&[&text]);
        assert!(
            allowed(&acl, Update, path),
            "{stronger} should win for {path}"
        );
        assert!(
            !allowed(&acl, Read, path),
            "{weaker} must not be unioned in for {path}"
        );
        assert_eq!(acl.capabilities(path), ["update"], "{path}");
    }
}

#[test]
fn exact_rule_beats_any_glob_and_no_union() {
    let acl = acl(&[r#"
path "secret/*" { capabilities = ["read", "list", "update", "sudo"] }
path "secret/+" { capabilities = ["delete"] }
path "secret/only-create" { capabilities = ["create"] }
"#]);
    assert!(allowed(&acl, Create, "secret/only-create"));
    assert!(!allowed(&acl, Read, "secret/only-create"));
    let decision = acl.allow("secret/only-create", Update, &no_data());
    assert_eq!(decision, AclDecision::default());
    // Between `secret/*` and `secret/+` the `+` rule ranks higher.
    assert!(allowed(&acl, Delete, "secret/other"));
    assert!(!allowed(&acl, Read, "secret/other"));
    assert!(allowed(&acl, Read, "secret/deeper/path"));
}

#[test]
fn list_operations_try_path_without_trailing_slash() {
    let acl = acl(&[r#"
path "pki/roles" { capabilities = ["list"] }
path "kv/*" { capabilities = ["list"] }
path "kv/" { capabilities = ["read"] }
"#]);
    assert!(allowed(&acl, List, "pki/roles/"));
    assert!(allowed(&acl, List, "pki/roles"));
    // Non-list operations do not get the fallback.
    assert!(!allowed(&acl, Read, "pki/roles/"));
    // An exact rule for `kv/` itself wins for every operation, also list.
    assert!(!allowed(&acl, List, "kv/"));
    assert!(allowed(&acl, Read, "kv/"));
    assert!(allowed(&acl, List, "kv/sub/"));
    assert_eq!(acl.capabilities("pki/roles/"), ["list"]);
}

#[test]
fn leading_slashes_are_ignored() {
    let acl = acl(&[r#"path "/secret/foo" { capabilities = ["read"] }"#]);
    assert!(allowed(&acl, Read, "secret/foo"));
    assert!(allowed(&acl, Read, "//secret/foo"));
    assert_eq!(acl.capabilities("/secret/foo"), ["read"]);
}

#[test]
fn operations_that_are_not_operations_are_denied() {
    let acl = acl(&[r#"path "x" { capabilities = ["sudo", "subscribe", "read"] }"#]);
    for op in [Deny, Sudo, Subscribe] {
        let decision = acl.allow("x", op, &no_data());
        assert!(!decision.allowed, "{op}");
        assert!(decision.sudo);
    }
}

#[test]
fn root_allows_everything() {
    let acl = Acl::new(&[], true);
    let decision = acl.allow("sys/raw/anything", Delete, &data(json!({"x": 1})));
    assert_eq!(
        decision,
        AclDecision {
            allowed: true,
            sudo: true,
            root: true
        }
    );
    assert_eq!(acl.capabilities("any/path"), ["root"]);
    assert!(acl.has_any_under("nothing/"));
    assert!(acl.is_root());

    // A policy object named root has the same effect.
    let root_policy = policy("root", "");
    assert!(Acl::new(&[&root_policy], false).is_root());
}

#[test]
fn no_policies_deny_everything() {
    let acl = Acl::new(&[], false);
    assert_eq!(
        acl.allow("secret/x", Read, &no_data()),
        AclDecision::default()
    );
    assert_eq!(acl.capabilities("secret/x"), ["deny"]);
    assert!(!acl.has_any_under("secret/"));
}

#[test]
fn capabilities_are_sorted_and_deny_collapses() {
    let acl = acl(&[r#"
path "a" { capabilities = ["update", "sudo", "read", "list", "delete", "create", "patch"] }
path "b" { capabilities = ["deny"] }
path "c" { capabilities = [] }
path "b/*" { capabilities = ["read"] }
"#]);
    assert_eq!(
        acl.capabilities("a"),
        ["create", "delete", "list", "patch", "read", "sudo", "update"]
    );
    assert_eq!(acl.capabilities("b"), ["deny"]);
    assert_eq!(acl.capabilities("c"), ["deny"]);
    assert_eq!(acl.capabilities("b/x"), ["read"]);
    assert_eq!(acl.capabilities("zzz"), ["deny"]);
}

#[test]
fn guide_policy_needs_update_for_pki() {
    let acl = acl(&[r#"path "pki/root/sign-intermediate" {capabilities=["create","update"]}"#]);
    let csr = data(json!({"csr": "-----BEGIN CERTIFICATE REQUEST-----", "ttl": "720h"}));
    assert!(
        acl.allow("pki/root/sign-intermediate", Update, &csr)
            .allowed
    );
    assert!(
        !acl.allow("pki/root/sign-intermediate", Read, &no_data())
            .allowed
    );
    assert!(!acl.allow("pki/issue/web", Update, &csr).allowed);
    assert_eq!(
        acl.capabilities("pki/root/sign-intermediate"),
        ["create", "update"]
    );
}

#[test]
fn default_policy_matches_vault() {
    let default = policy("default", DEFAULT_POLICY_HCL);
    assert_eq!(default.raw, DEFAULT_POLICY_HCL);
    assert!(default.is_templated());
    let acl = Acl::new(&[&default], false);
    let update_only = [
        "auth/token/renew-self",
        "auth/token/revoke-self",
        "sys/capabilities-self",
        "sys/renew",
        "sys/leases/renew",
        "sys/leases/lookup",
        "sys/wrapping/wrap",
        "sys/wrapping/lookup",
        "sys/wrapping/unwrap",
        "sys/tools/hash",
        "sys/tools/hash/sha2-256",
    ];
    for path in update_only {
        assert_eq!(acl.capabilities(path), ["update"], "{path}");
    }
    assert_eq!(acl.capabilities("auth/token/lookup-self"), ["read"]);
    assert_eq!(acl.capabilities("sys/internal/ui/resultant-acl"), ["read"]);
    assert_eq!(
        acl.capabilities("cubbyhole/my/secret"),
        ["create", "delete", "list", "read", "update"]
    );
    assert_eq!(
        acl.capabilities("identity/oidc/provider/default/authorize"),
        ["read", "update"]
    );
    // Templated rules never match without an identity store.
    assert_eq!(
        acl.capabilities("identity/entity/id/{{identity.entity.id}}"),
        ["deny"]
    );
    assert_eq!(acl.capabilities("identity/entity/id/1234"), ["deny"]);
    assert_eq!(acl.capabilities("pki/root/sign-intermediate"), ["deny"]);
    assert!(acl.has_any_under("cubbyhole/"));
    assert!(!acl.has_any_under("pki/"));
}

#[test]
fn hcl_json_and_base64_forms_agree() {
    let hcl = r#"
path "secret/+/data" {
  capabilities       = ["read", "update"]
  allowed_parameters = { "version" = ["1", "2"] }
}
path "secret/admin" { policy = "deny" }
"#;
    let json_text = r#"{
  "path": {
    "secret/+/data": {
      "capabilities": ["read", "update"],
      "allowed_parameters": {"version": ["1", "2"]}
    },
    "secret/admin": {"policy": "deny"}
  }
}"#;
    let b64 = base64::engine::general_purpose::STANDARD.encode(hcl);
    let b64_json = base64::engine::general_purpose::STANDARD.encode(json_text);
    let from_hcl = policy("p", hcl);
    for text in [json_text, b64.as_str(), b64_json.as_str()] {
        let other = policy("p", text);
        assert_eq!(other.rules(), from_hcl.rules(), "{text}");
    }
    // Base64 input is stored decoded, like Vault.
    assert_eq!(policy("p", &b64).raw, hcl);
    assert_eq!(policy("p", json_text).raw, json_text);

    let acl = acl(&[json_text]);
    assert!(
        acl.allow("secret/a/data", Update, &data(json!({"version": "2"})))
            .allowed
    );
    assert!(
        !acl.allow("secret/a/data", Update, &data(json!({"version": "3"})))
            .allowed
    );
    assert!(!allowed(&acl, Read, "secret/admin"));
}

#[test]
fn parse_errors_read_like_vault() {
    let err = |text: &str| Policy::parse("p", text).unwrap_err().to_string();
    assert_eq!(
        err(r#"path "secret/*" { capabilities = ["read", "write"] }"#),
        r#"path "secret/*": path "secret/*": invalid capability "write""#
    );
    assert_eq!(
        err(r#"path "secret/*" { capabilites = ["read"] }"#),
        "path \"secret/*\": 1 error occurred:\n\t* invalid key \"capabilites\" on line 1\n\n"
    );
    assert_eq!(
        err(r#"path "secret/*" { policy = "admin" }"#),
        r#"path "secret/*": path "secret/*": invalid policy "admin""#
    );
    assert_eq!(
        err(r#"path "secret/+*" { capabilities = ["read"] }"#),
        r#"path "secret/+*": invalid use of wildcards ('+*' is forbidden)"#
    );
    // Vault names the line of the key's `=`, which a block does not have.
    assert_eq!(
        err(r#"paths "x" {}"#),
        "1 error occurred:\n\t* invalid key \"paths\" on line 0\n\n"
    );
    assert_eq!(
        err(r#"{"path": {"x": {"capabilities": ["nope"]}}}"#),
        r#"path "x": path "x": invalid capability "nope""#
    );
    assert!(matches!(
        Policy::parse("p", "[1, 2]"),
        Err(PolicyError::Syntax(_))
    ));
    assert_eq!(
        Policy::parse("p", "{\"path\": [1]}")
            .unwrap_err()
            .to_string(),
        "invalid path stanza: \"path\" must map path patterns to objects"
    );
    assert!(err("path \"x\" {").starts_with("At 1:"));
    assert!(err("{\"path\": ").contains("EOF"));
    assert!(
        err(r#"path "a/{{identity.entity.id" { capabilities = ["read"] }"#).contains("templating")
    );
    // A whole policy file with one bad stanza is rejected.
    assert!(Policy::parse(
        "p",
        &format!("{MIXED}\npath \"x\" {{ capabilities = [\"bogus\"] }}")
    )
    .is_err());
    // Empty documents are syntactically fine (the HTTP layer rejects empty bodies).
    assert_eq!(policy("p", "# only a comment\n").rules(), []);
}

#[test]
fn parameter_constraints_apply_to_writes_and_reads_only() {
    let acl = acl(&[r#"
path "pki/issue/web" {
  capabilities       = ["read", "update", "create", "patch", "list", "delete"]
  allowed_parameters = {
    "common_name" = ["*.example.com"]
    "ttl"         = []
  }
  denied_parameters   = { "ip_sans" = [] }
  required_parameters = ["common_name"]
}
"#]);
    let path = "pki/issue/web";
    let ok = data(json!({"common_name": "www.example.com", "ttl": "1h"}));
    for op in [Create, Update, Patch, Read] {
        assert!(acl.allow(path, op, &ok).allowed, "{op}");
        assert!(
            !acl.allow(path, op, &no_data()).allowed,
            "{op}: required missing"
        );
        let bad_cn = data(json!({"common_name": "evil.com"}));
        assert!(
            !acl.allow(path, op, &bad_cn).allowed,
            "{op}: value not allowed"
        );
        let extra = data(json!({"common_name": "a.example.com", "alt_names": "x"}));
        assert!(
            !acl.allow(path, op, &extra).allowed,
            "{op}: name not allowed"
        );
        let denied = data(json!({"common_name": "a.example.com", "ip_sans": "1.2.3.4"}));
        assert!(!acl.allow(path, op, &denied).allowed, "{op}: denied name");
    }
    // List and delete ignore parameter constraints, as in Vault.
    for op in [List, Delete] {
        assert!(acl.allow(path, op, &no_data()).allowed, "{op}");
        assert!(
            acl.allow(path, op, &data(json!({"ip_sans": "x"}))).allowed,
            "{op}"
        );
    }
}

#[test]
fn value_permissions_like_vault() {
    let acl = acl(&[r#"
path "dev/ops" {
  policy = "write"
  allowed_parameters = { "allow" = ["good"] }
}
path "foo/bar" {
  policy = "write"
  denied_parameters = { "deny" = ["bad*"] }
}
path "foo/baz" {
  policy = "write"
  allowed_parameters = { "ALLOW" = ["good"] }
  denied_parameters = { "dEny" = ["bad"] }
}
path "fizz/buzz" {
  policy = "write"
  allowed_parameters = { "allow_multi" = ["good", "good1", "good2", "*good3"], "allow" = ["good"] }
  denied_parameters = { "deny_multi" = ["bad", "bad1", "bad2"] }
}
path "test/types" {
  policy = "write"
  allowed_parameters = { "map" = [{"good" = "one"}], "int" = [1, 2], "bool" = [false] }
}
path "test/star" {
  policy = "write"
  allowed_parameters = { "*" = [], "foo" = [], "bar" = [false] }
}
"#]);
    let cases: &[(&str, Value, bool)] = &[
        ("dev/ops", json!({"allow": "good"}), true),
        ("dev/ops", json!({"allow": "bad"}), false),
        ("foo/bar", json!({"deny": "bad"}), false),
        ("foo/bar", json!({"deny": "bad glob"}), false),
        ("foo/bar", json!({"deny": "good"}), true),
        ("foo/bar", json!({"allow": "good"}), true),
        ("foo/bar", json!({"deny": null}), true),
        ("foo/baz", json!({"aLLow": "good"}), true),
        ("foo/baz", json!({"deny": "bad"}), false),
        ("foo/baz", json!({"deny": "good"}), false),
        ("foo/baz", json!({"allow": "good", "deny": "bad"}), false),
        ("foo/baz", json!({"deNy": "bad", "allow": "good"}), false),
        ("foo/baz", json!({"aLLow": "bad"}), false),
        ("foo/baz", json!({"Neither": "bad"}), false),
        ("foo/baz", json!({"allow": null}), false),
        ("fizz/buzz", json!({"allow_multi": "good"}), true),
        ("fizz/buzz", json!({"allow_multi": "good1"}), true),
        ("fizz/buzz", json!({"allow_multi": "glob good2"}), false),
        ("fizz/buzz", json!({"allow_multi": "glob good3"}), true),
        ("fizz/buzz", json!({"allow_multi": "bad"}), false),
        (
            "fizz/buzz",
            json!({"allow_multi": "good1", "allow": "good"}),
            true,
        ),
        ("fizz/buzz", json!({"deny_multi": "bad2"}), false),
        (
            "fizz/buzz",
            json!({"deny_multi": "good", "allow_multi": "good2"}),
            false,
        ),
        ("test/types", json!({"map": {"good": "one"}}), true),
        ("test/types", json!({"map": {"bad": "one"}}), false),
        ("test/types", json!({"int": 1}), true),
        ("test/types", json!({"int": "2"}), true),
        ("test/types", json!({"int": 3}), false),
        ("test/types", json!({"bool": false}), true),
        ("test/types", json!({"bool": true}), false),
        ("test/star", json!({"anything": true}), true),
        ("test/star", json!({"foo": true}), true),
        ("test/star", json!({"bar": false}), true),
        ("test/star", json!({"bar": "false"}), true),
        ("test/star", json!({"bar": true}), false),
    ];
    for (path, body, want) in cases {
        for op in [Update, Create] {
            let got = acl.allow(path, op, &data(body.clone())).allowed;
            assert_eq!(got, *want, "{op} {path} {body}");
        }
    }
}

#[test]
fn parameter_maps_merge_across_policies() {
    let acl = acl(&[
        r#"path "allow/all" {
  policy = "write"
  allowed_parameters = { "test" = [], "test1" = ["foo"] }
}"#,
        r#"path "allow/all" {
  policy = "write"
  allowed_parameters = { "*" = [] }
}
path "deny/all" {
  policy = "write"
  denied_parameters = { "*" = [] }
}"#,
        r#"path "deny/all" {
  policy = "write"
  denied_parameters = { "test" = [] }
}"#,
    ]);
    let write = |path, body| acl.allow(path, Update, &data(body)).allowed;
    assert!(write("allow/all", json!({"anything": 1, "test": "x"})));
    assert!(write("allow/all", json!({"test1": "foo"})));
    assert!(!write("allow/all", json!({"test1": "bar"})));
    assert!(!write("deny/all", json!({"other": 1})));
    assert!(write("deny/all", json!({})));
}

#[test]
fn wrapping_ttl_rules_allow_only_requests_wrapped_within_them() {
    let acl = acl(&[r#"
path "secret/wrapped" {
  capabilities     = ["read"]
  max_wrapping_ttl = "5m"
}
"#]);
    assert!(!allowed(&acl, Read, "secret/wrapped"));
    let wrapped = |ttl| {
        acl.allow_wrapped("secret/wrapped", Read, &Map::new(), Some(ttl))
            .allowed
    };
    assert!(wrapped(300) && wrapped(1));
    assert!(!wrapped(301), "longer than max_wrapping_ttl");
    // Still reported by sys/capabilities, as Vault does.
    assert_eq!(acl.capabilities("secret/wrapped"), ["read"]);
}

#[test]
fn ignored_enterprise_keys_do_not_change_decisions() {
    let acl = acl(&[r#"
path "secret/mfa" {
  capabilities = ["read"]
  mfa_methods  = ["totp"]
  comment      = "needs MFA on Enterprise"
}
"#]);
    assert!(allowed(&acl, Read, "secret/mfa"));
}

#[test]
fn has_any_under_mount() {
    let cases: &[(&str, &str, bool)] = &[
        (
            r#"path "secret/data/app" { capabilities = ["read"] }"#,
            "secret/",
            true,
        ),
        (
            r#"path "secret/data/app" { capabilities = ["read"] }"#,
            "secret",
            true,
        ),
        (
            r#"path "secret/data/app" { capabilities = ["read"] }"#,
            "pki/",
            false,
        ),
        (
            r#"path "secretive/x" { capabilities = ["read"] }"#,
            "secret",
            false,
        ),
        (
            r#"path "secret/data/*" { capabilities = ["list"] }"#,
            "secret/",
            true,
        ),
        (
            r#"path "secret/data/*" { capabilities = ["deny"] }"#,
            "secret/",
            false,
        ),
        (
            r#"path "secret/data/app" { capabilities = ["subscribe"] }"#,
            "secret/",
            false,
        ),
        (
            r#"path "secret" { capabilities = ["read"] }"#,
            "secret/",
            true,
        ),
        (
            r#"path "sec*" { capabilities = ["read"] }"#,
            "secret/",
            true,
        ),
        (r#"path "*" { capabilities = ["read"] }"#, "anything/", true),
        (r#"path "+" { capabilities = ["read"] }"#, "foo/", true),
        (r#"path "+/*" { capabilities = ["read"] }"#, "foo/", true),
        (
            r#"path "foo/+/+/*" { capabilities = ["read"] }"#,
            "foo/",
            true,
        ),
        (
            r#"path "foo/+/+/*" { capabilities = ["read"] }"#,
            "foo/bar/",
            true,
        ),
        (
            r#"path "foo/+/+/*" { capabilities = ["read"] }"#,
            "foo/bar/bar/baz/",
            true,
        ),
        (
            r#"path "foo/+/+/baz" { capabilities = ["read"] }"#,
            "foo/bar/bar/baz/",
            true,
        ),
        (
            r#"path "foo/+/bar/baz" { capabilities = ["read"] }"#,
            "foo/bar/bar/baz/",
            true,
        ),
        (
            r#"path "foo/bar/+/baz*" { capabilities = ["read"] }"#,
            "foo/bar/bar/baz/",
            true,
        ),
        (
            r#"path "foo/bar/+/b*" { capabilities = ["read"] }"#,
            "foo/bar/bar/baz/",
            true,
        ),
        (r#"path "foo/+" { capabilities = ["read"] }"#, "foo/", true),
        (
            r#"path "foo/+/x" { capabilities = ["read"] }"#,
            "bar/",
            false,
        ),
        (
            r#"path "foo/+/x" { capabilities = ["deny"] }"#,
            "foo/",
            false,
        ),
        (
            r#"path "foo/+" { capabilities = ["read"] }"#,
            "foo/a/b/",
            false,
        ),
    ];
    for (text, mount, want) in cases {
        let acl = acl(&[text]);
        assert_eq!(acl.has_any_under(mount), *want, "{text} under {mount}");
    }
}

#[test]
fn templated_rules_are_skipped_but_others_apply() {
    let acl = acl(&[r#"
path "secret/{{identity.entity.name}}/*" { capabilities = ["read"] }
path "secret/shared/*" { capabilities = ["read"] }
"#]);
    assert!(!allowed(&acl, Read, "secret/alice/x"));
    assert!(allowed(&acl, Read, "secret/shared/x"));
}

// ------------------------------------------------------------- properties --

const OPS: [Capability; 6] = [Read, List, Create, Update, Patch, Delete];

fn segment() -> impl Strategy<Value = String> {
    "[a-c]{1,3}"
}

fn path_strategy() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(segment(), 1..5)
}

fn caps_strategy() -> impl Strategy<Value = Vec<Capability>> {
    prop::sample::subsequence(vec![Create, Read, Update, Patch, Delete, List, Sudo], 0..=7)
}

fn caps_hcl(caps: &[Capability]) -> String {
    let names: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
    format!("[{}]", names.join(", "))
}

/// A wildcard pattern that matches `parts`: a prefix glob cut at any byte,
/// or the path with some segments replaced by `+` (optionally globbed).
fn matching_wildcard(parts: &[String], cut: usize, plus_mask: u8, glob: bool) -> String {
    let joined = parts.join("/");
    // Only bits for existing segments count, so a non-zero mask always yields a `+`.
    let plus_mask = plus_mask & ((1u16 << parts.len()) - 1) as u8;
    if plus_mask == 0 {
        let cut = cut % (joined.len() + 1);
        return format!("{}*", &joined[..cut]);
    }
    let replaced: Vec<&str> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if plus_mask & (1 << i) != 0 {
                "+"
            } else {
                p.as_str()
            }
        })
        .collect();
    let pattern = replaced.join("/");
    if glob && !pattern.ends_with('+') {
        format!("{pattern}*")
    } else {
        pattern
    }
}

proptest! {
    /// An exact rule decides alone, whatever wildcard rules also match.
    #[test]
    fn exact_rule_always_beats_wildcards(
        parts in path_strategy(),
        exact_caps in caps_strategy(),
        wild in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>(), caps_strategy()), 0..4),
    ) {
        let path = parts.join("/");
        let mut text = format!("path \"{path}\" {{ capabilities = {} }}\n", caps_hcl(&exact_caps));
        for (cut, mask, glob, caps) in &wild {
            let pattern = matching_wildcard(&parts, *cut, *mask, *glob);
            text += &format!("path \"{pattern}\" {{ capabilities = {} }}\n", caps_hcl(caps));
        }
        let acl = acl(&[&text]);
        for op in OPS {
            prop_assert_eq!(allowed(&acl, op, &path), exact_caps.contains(&op), "{} on {}\n{}", op, path, text);
        }
        prop_assert_eq!(acl.allow(&path, Read, &no_data()).sudo, exact_caps.contains(&Sudo));
    }

    /// A deny on the pattern that decides a path denies every operation,
    /// whichever policies grant what on the same pattern.
    #[test]
    fn deny_always_denies(
        parts in path_strategy(),
        cut in any::<usize>(),
        mask in any::<u8>(),
        glob in any::<bool>(),
        grants in prop::collection::vec(caps_strategy(), 0..4),
        deny_position in any::<prop::sample::Index>(),
        use_exact in any::<bool>(),
    ) {
        let path = parts.join("/");
        let pattern = if use_exact { path.clone() } else { matching_wildcard(&parts, cut, mask, glob) };
        let mut texts: Vec<String> = grants
            .iter()
            .map(|caps| format!("path \"{pattern}\" {{ capabilities = {} }}", caps_hcl(caps)))
            .collect();
        let deny = format!("path \"{pattern}\" {{ capabilities = [\"deny\"] }}");
        texts.insert(deny_position.index(texts.len() + 1), deny);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let acl = acl(&refs);
        for op in OPS {
            let decision = acl.allow(&path, op, &no_data());
            prop_assert!(!decision.allowed && !decision.sudo, "{} {}", op, pattern);
        }
        prop_assert_eq!(acl.capabilities(&path), vec!["deny".to_owned()]);
    }

    /// `capabilities()` and `allow()` agree for plain (non-list) paths.
    #[test]
    fn capabilities_agree_with_allow(
        parts in path_strategy(),
        rules in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>(), caps_strategy()), 1..5),
    ) {
        let path = parts.join("/");
        let text: String = rules
            .iter()
            .map(|(cut, mask, glob, caps)| {
                let pattern = matching_wildcard(&parts, *cut, *mask, *glob);
                format!("path \"{pattern}\" {{ capabilities = {} }}\n", caps_hcl(caps))
            })
            .collect();
        let acl = acl(&[&text]);
        let caps = acl.capabilities(&path);
        for op in [Read, Create, Update, Patch, Delete] {
            prop_assert_eq!(allowed(&acl, op, &path), caps.iter().any(|c| c == op.as_str()));
        }
        let mut sorted = caps.clone();
        sorted.sort();
        prop_assert_eq!(sorted, caps);
    }

    /// Merging is order-independent: shuffling policies changes nothing.
    #[test]
    fn policy_order_does_not_matter(
        parts in path_strategy(),
        rules in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>(), caps_strategy(), any::<bool>()), 1..6),
    ) {
        let path = parts.join("/");
        let texts: Vec<String> = rules
            .iter()
            .map(|(cut, mask, glob, caps, deny)| {
                let pattern = matching_wildcard(&parts, *cut, *mask, *glob);
                let caps = if *deny { "[\"deny\"]".to_owned() } else { caps_hcl(caps) };
                format!("path \"{pattern}\" {{ capabilities = {caps} }}")
            })
            .collect();
        let forward: Vec<&str> = texts.iter().map(String::as_str).collect();
        let backward: Vec<&str> = texts.iter().rev().map(String::as_str).collect();
        prop_assert_eq!(acl(&forward).capabilities(&path), acl(&backward).capabilities(&path));
    }

    /// Among prefix globs alone, the longest matching prefix decides, with
    /// no union across different prefixes (identical patterns merge).
    #[test]
    fn longest_prefix_glob_decides(
        parts in path_strategy(),
        globs in prop::collection::vec((any::<usize>(), caps_strategy()), 1..5),
    ) {
        let path = parts.join("/");
        let mut text = String::new();
        let mut longest: Option<(usize, Vec<Capability>)> = None;
        for (cut, caps) in &globs {
            let cut = cut % (path.len() + 1);
            text += &format!("path \"{}*\" {{ capabilities = {} }}\n", &path[..cut], caps_hcl(caps));
            match &mut longest {
                Some((len, merged)) if *len == cut => merged.extend(caps.iter().copied()),
                Some((len, _)) if *len > cut => {}
                _ => longest = Some((cut, caps.clone())),
            }
        }
        let (_, winner) = longest.expect("at least one glob");
        let acl = acl(&[&text]);
        for op in OPS {
            prop_assert_eq!(allowed(&acl, op, &path), winner.contains(&op), "{} on {}\n{}", op, path, text);
        }
    }

    /// Rules whose patterns cannot match a path never change its decision.
    #[test]
    fn non_matching_rules_change_nothing(
        parts in path_strategy(),
        rules in prop::collection::vec((any::<usize>(), any::<u8>(), any::<bool>(), caps_strategy()), 1..4),
        others in prop::collection::vec((path_strategy(), any::<u8>(), any::<bool>(), any::<bool>()), 1..4),
    ) {
        let path = parts.join("/");
        let base: String = rules
            .iter()
            .map(|(cut, mask, glob, caps)| {
                let pattern = matching_wildcard(&parts, *cut, *mask, *glob);
                format!("path \"{pattern}\" {{ capabilities = {} }}\n", caps_hcl(caps))
            })
            .collect();
        let mut extended = base.clone();
        for (other, mask, glob, deny) in &others {
            // Segments are [a-c]: a first segment starting with `z` never matches.
            let mut other = other.clone();
            other[0] = format!("z{}", other[0]);
            let mask = *mask & !1 & ((1u16 << other.len()) - 1) as u8;
            let pattern = if mask != 0 {
                matching_wildcard(&other, 0, mask, *glob)
            } else if *glob {
                format!("{}*", other.join("/"))
            } else {
                other.join("/")
            };
            let caps = if *deny { "[\"deny\"]".to_owned() } else { caps_hcl(&OPS) };
            extended += &format!("path \"{pattern}\" {{ capabilities = {caps} }}\n");
        }
        let (before, after) = (acl(&[&base]), acl(&[&extended]));
        prop_assert_eq!(before.capabilities(&path), after.capabilities(&path));
        for op in OPS {
            prop_assert_eq!(allowed(&before, op, &path), allowed(&after, op, &path), "{}\n{}", op, extended);
        }
    }

    /// The parser rejects or accepts, but never panics, on arbitrary input.
    #[test]
    fn parser_never_panics(text in "\\PC{0,80}") {
        let _ = Policy::parse("fuzz", &text);
    }

    /// Nor on inputs that look almost like policies.
    #[test]
    fn parser_never_panics_on_near_policies(
        path in "[a-z/+*{}]{0,12}",
        key in prop::sample::select(vec!["capabilities", "policy", "allowed_parameters", "required_parameters", "max_wrapping_ttl", "bogus"]),
        value in prop::sample::select(vec!["[\"read\"]", "\"read\"", "{}", "[1]", "\"1h\"", "{ a = [] }", "null"]),
    ) {
        let text = format!("path \"{path}\" {{ {key} = {value} }}");
        if let Ok(p) = Policy::parse("fuzz", &text) {
            let acl = Acl::new(&[&p], false);
            let _ = acl.allow(&path, Update, &data(json!({"a": 1})));
            let _ = acl.capabilities(&path);
            let _ = acl.has_any_under(&path);
        }
    }

    /// Parameter checks: a request with only allowed names and values passes;
    /// adding any denied name fails.
    #[test]
    fn denied_parameter_always_denies(
        allowed_names in prop::collection::btree_set("[a-d]{1,2}", 1..4),
        denied_name in "[e-g]{1,2}",
        value in "[a-z0-9]{0,6}",
    ) {
        let allowed_map: Vec<String> = allowed_names.iter().map(|n| format!("\"{n}\" = []")).collect();
        let text = format!(
            "path \"p\" {{\n capabilities = [\"update\"]\n allowed_parameters = {{ {} }}\n denied_parameters = {{ \"{denied_name}\" = [] }}\n}}",
            allowed_map.join(", ")
        );
        let acl = acl(&[&text]);
        let mut body: Map<String, Value> = allowed_names.iter().map(|n| (n.clone(), json!(value))).collect();
        prop_assert!(acl.allow("p", Update, &body).allowed);
        body.insert(denied_name.to_uppercase(), json!(value));
        prop_assert!(!acl.allow("p", Update, &body).allowed);
    }
}

/// Deeply nested or chained HCL (policy text arrives as a JSON string, so
/// no JSON depth limit applies) is refused, never a stack overflow: each
/// shape is parsed on a thread with a tokio worker's 2 MiB stack.
#[test]
fn deep_hcl_is_refused_not_a_stack_overflow() {
    let n = 50_000;
    let shapes: Vec<(&str, String)> = vec![
        (
            "brackets",
            format!(
                "path \"a\" {{ capabilities = {}\"read\"{} }}",
                "[".repeat(n),
                "]".repeat(n)
            ),
        ),
        (
            "objects",
            format!(
                "path \"a\" {{ x = {}1{} }}",
                "{a = ".repeat(n),
                "}".repeat(n)
            ),
        ),
        (
            "parens",
            format!("path \"a\" {{ x = {}1{} }}", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "blocks",
            format!("{}{}", "path \"a\" { ".repeat(n), "}".repeat(n)),
        ),
        ("not", format!("path \"a\" {{ x = {}true }}", "!".repeat(n))),
        ("minus", format!("path \"a\" {{ x = {}1 }}", "-".repeat(n))),
        ("sum", format!("path \"a\" {{ x = {}1 }}", "1 + ".repeat(n))),
        (
            "conditional",
            format!("path \"a\" {{ x = {}1{} }}", "true ? 1 : ".repeat(n), ""),
        ),
        (
            "calls",
            format!("path \"a\" {{ x = {}1{} }}", "f(".repeat(n), ")".repeat(n)),
        ),
        (
            "templates",
            format!(
                "path \"a\" {{ x = {}x{} }}",
                "\"${".repeat(n),
                "}\"".repeat(n)
            ),
        ),
        (
            "for",
            format!(
                "path \"a\" {{ x = {}1{} }}",
                "[for x in ".repeat(n),
                " : x]".repeat(n)
            ),
        ),
        (
            "json",
            format!("{{\"path\":{{\"a\":{}1{}}}}}", "[".repeat(n), "]".repeat(n)),
        ),
    ];
    for (name, text) in shapes {
        let result = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                Policy::parse("deep", &text)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .expect("thread")
            .join()
            .unwrap_or_else(|_| panic!("{name}: parser panicked"));
        assert!(result.is_err(), "{name}: a {n}-deep policy was accepted");
    }
    // Nesting within the bound still parses, on the same small stack, and
    // comments and heredocs full of operators do not count.
    let ok = format!(
        "# a -- comment -- with ((( [[[ !!! --- \npath \"a\" {{\n capabilities = [\"read\"]\n allowed_parameters = {{ x = {}\"v\"{} }}\n}}\n/* {} */\nx = <<EOT\n{}\nEOT\n",
        "[".repeat(40),
        "]".repeat(40),
        "-".repeat(200),
        "[-!(".repeat(200)
    );
    let parsed = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            Policy::parse("ok", &ok)
                .map(|p| p.rules().len())
                .map_err(|e| e.to_string())
        })
        .expect("thread")
        .join()
        .expect("no panic");
    // `x` at the top level is not a policy key: the point is that the
    // nesting check let it through to the parser.
    assert!(
        matches!(&parsed, Err(e) if e == "1 error occurred:\n\t* invalid key \"x\" on line 7\n\n"),
        "{parsed:?}"
    );
}
