//! Token roles: `auth/token/roles/:role_name` and creation through
//! `auth/token/create/:role_name`, with Vault's rules for what a caller may
//! ask. A role may grant policies its caller lacks (its allowed set bounds
//! them instead), but never `root` to a caller that is not root.

mod common;

use common::{Server, ROOT};
use serde_json::{json, Value};

fn create(s: &Server, token: &str, role: &str, body: Value) -> common::Reply {
    s.call(
        "POST",
        &format!("auth/token/create/{role}"),
        token,
        Some(body),
    )
}

#[test]
fn a_role_reads_back_with_every_field_and_vaults_defaults() {
    let s = Server::dev();
    assert_eq!(s.write("auth/token/roles/plain", json!({})).status, 204);
    let plain = s.read("auth/token/roles/plain");
    assert_eq!(
        plain.json["data"],
        json!({
            "allowed_entity_aliases": null, "allowed_policies": [], "allowed_policies_glob": [],
            "disallowed_policies": [], "disallowed_policies_glob": [], "explicit_max_ttl": 0,
            "name": "plain", "orphan": false, "path_suffix": "", "period": 0, "renewable": true,
            "token_explicit_max_ttl": 0, "token_no_default_policy": false, "token_period": 0,
            "token_type": "default-service"
        })
    );
    let full = json!({
        "allowed_policies": "a,b", "disallowed_policies": ["c"], "allowed_policies_glob": "x*",
        "disallowed_policies_glob": "y*", "orphan": true, "renewable": false, "path_suffix": "sfx",
        "allowed_entity_aliases": ["E1"], "token_bound_cidrs": ["127.0.0.1/32"],
        "token_explicit_max_ttl": "1h", "token_period": "30m", "token_type": "service",
        "token_no_default_policy": true, "token_num_uses": 3
    });
    assert_eq!(s.write("auth/token/roles/full", full).status, 204);
    let read = s.read("auth/token/roles/full");
    assert_eq!(
        read.json["data"],
        json!({
            "allowed_entity_aliases": ["e1"], "allowed_policies": ["a", "b"],
            "allowed_policies_glob": ["x*"], "disallowed_policies": ["c"],
            "disallowed_policies_glob": ["y*"], "explicit_max_ttl": 0, "name": "full",
            "orphan": true, "path_suffix": "sfx", "period": 0, "renewable": false,
            "token_bound_cidrs": ["127.0.0.1"], "token_explicit_max_ttl": 3600,
            "token_no_default_policy": true, "token_num_uses": 3, "token_period": 1800,
            "token_type": "service"
        })
    );
    // The deprecated names are read, and shown as given.
    s.write(
        "auth/token/roles/old",
        json!({"period": "1h", "explicit_max_ttl": "2h", "bound_cidrs": ["10.0.0.0/8"]}),
    );
    let old = s.read("auth/token/roles/old");
    assert_eq!(old.data("period"), 3600);
    assert_eq!(old.data("token_period"), 3600);
    assert_eq!(old.data("bound_cidrs"), &json!(["10.0.0.0/8"]));
    let both = s.write(
        "auth/token/roles/both",
        json!({"token_period": "1h", "period": "2h"}),
    );
    assert_eq!(
        both.warnings(),
        ["Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"]
    );
    let listed = s.list("auth/token/roles");
    assert_eq!(
        listed.data("keys"),
        &json!(["both", "full", "old", "plain"])
    );
    assert_eq!(s.delete("auth/token/roles/old").status, 204);
    assert_eq!(s.read("auth/token/roles/old").status, 404);
}

#[test]
fn role_writes_are_refused_with_vaults_texts() {
    let s = Server::dev();
    for (body, error) in [
        (
            json!({"path_suffix": "a/"}),
            "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w",
        ),
        (
            json!({"token_type": "batch"}),
            "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens",
        ),
        (
            json!({"token_type": "weird"}),
            "invalid 'token_type' value \"weird\"",
        ),
        (
            json!({"token_num_uses": -1}),
            "error parsing role fields: 'token_num_uses' cannot be negative",
        ),
    ] {
        let reply = s.write("auth/token/roles/bad", body.clone());
        assert_eq!(
            (reply.status, reply.errors()),
            (400, vec![error.to_string()]),
            "{body}"
        );
    }
    let unknown = create(&s, ROOT, "nope", json!({}));
    assert_eq!(unknown.errors(), ["unknown role nope"]);
}

#[test]
fn a_token_from_a_role_takes_the_roles_limits_path_and_name() {
    let s = Server::dev();
    s.write(
        "auth/token/roles/app",
        json!({
            "allowed_policies": ["a", "b"], "disallowed_policies": ["c"], "allowed_policies_glob": ["x*"],
            "orphan": true, "renewable": false, "path_suffix": "rev2", "token_period": "30m",
            "token_num_uses": 3, "token_no_default_policy": true, "allowed_entity_aliases": ["web-*"]
        }),
    );
    let made = create(&s, ROOT, "app", json!({}));
    assert_eq!(made.status, 200, "{:?}", made.json);
    let auth = &made.json["auth"];
    assert_eq!(auth["policies"], json!(["a", "b"]));
    assert_eq!(auth["orphan"], true);
    assert_eq!(auth["renewable"], false);
    assert_eq!(auth["num_uses"], 3);
    assert_eq!(auth["lease_duration"], 1800);
    let token = made.client_token();
    let seen = s.write("auth/token/lookup", json!({ "token": token }));
    assert_eq!(seen.data("path"), "auth/token/create/app/rev2");
    assert_eq!(seen.data("role"), "app");

    let globbed = create(&s, ROOT, "app", json!({"policies": ["x1"]}));
    assert_eq!(globbed.json["auth"]["policies"], json!(["x1"]));
    for (body, error) in [
        (json!({"policies": ["c"]}), "token policies ([\"c\"]) must be subset of the role's allowed policies ([\"a\" \"b\"]) or glob policies ([\"x*\"])"),
        (json!({"entity_alias": "db-1"}), "invalid 'entity_alias' value"),
        (json!({"type": "batch"}), "batch tokens are not supported by vaultlet"),
    ] {
        let reply = create(&s, ROOT, "app", body.clone());
        assert_eq!((reply.status, reply.errors()), (400, vec![error.to_string()]), "{body}");
    }
    // An allowed alias gives the token an entity: the same one every time.
    let entity = |alias: &str| {
        create(&s, ROOT, "app", json!({"entity_alias": alias})).json["auth"]["entity_id"].clone()
    };
    assert!(entity("web-1").as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(entity("web-1"), entity("WEB-1"));
    assert_ne!(entity("web-1"), entity("web-2"));
}

#[test]
fn a_role_lends_its_policies_but_never_root_and_never_sudo_only_powers() {
    let s = Server::dev();
    let creator = "path \"auth/token/create/*\" { capabilities = [\"update\"] }";
    s.write("sys/policies/acl/creator", json!({"policy": creator}));
    s.write(
        "auth/token/roles/rootish",
        json!({"allowed_policies": ["root"]}),
    );
    s.write(
        "auth/token/roles/admin",
        json!({"allowed_policies": ["admin"]}),
    );
    s.write("auth/token/roles/open", json!({}));
    let caller = s
        .write("auth/token/create", json!({"policies": ["creator"]}))
        .client_token();

    let rootish = create(&s, &caller, "rootish", json!({}));
    assert_eq!(
        (rootish.status, rootish.errors()),
        (
            400,
            vec!["root tokens may not be created without parent token being root".to_string()]
        )
    );
    let admin = create(&s, &caller, "admin", json!({}));
    assert_eq!(admin.json["auth"]["policies"], json!(["admin", "default"]));
    assert_eq!(admin.warnings(), ["Policy \"admin\" does not exist"]);
    let periodic = create(&s, &caller, "admin", json!({"period": "1h"}));
    assert_eq!(
        periodic.errors(),
        ["root or sudo privileges required to create periodic token"]
    );
    // A role without allowed policies bounds tokens by the caller's own.
    let open = create(&s, &caller, "open", json!({"policies": ["other"]}));
    assert_eq!(open.errors(), ["child policies must be subset of parent"]);
    assert_eq!(
        create(&s, &caller, "open", json!({})).json["auth"]["policies"],
        json!(["creator", "default"])
    );
    // Root may use a root role.
    let root_child = create(&s, ROOT, "rootish", json!({}));
    assert_eq!(root_child.json["auth"]["policies"], json!(["root"]));
}

#[test]
fn a_role_bound_to_cidrs_mints_tokens_usable_only_from_there() {
    let s = Server::dev();
    s.write(
        "auth/token/roles/far",
        json!({"token_bound_cidrs": ["10.0.0.0/8"]}),
    );
    let made = create(&s, ROOT, "far", json!({"policies": ["default"]}));
    assert_eq!(made.status, 200, "{:?}", made.json);
    let token = made.client_token();
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &token, None).status,
        403
    );
}
