//! `auth/token/revoke-orphan`: revokes a token and leaves its children as
//! orphans. As in Vault, the handler itself demands sudo on the path, so a
//! caller without it gets a 400 rather than the ACL's 403.

mod common;

use common::Server;
use serde_json::json;

#[test]
fn revoking_a_parent_alone_orphans_its_children() {
    let s = Server::dev();
    let creator = "path \"auth/token/create\" { capabilities = [\"update\"] }";
    assert_eq!(
        s.write("sys/policies/acl/creator", json!({"policy": creator}))
            .status,
        204
    );
    let create = |parent: &str| {
        s.call(
            "POST",
            "auth/token/create",
            parent,
            Some(json!({"policies": ["creator"]})),
        )
        .client_token()
    };
    let parent = create(common::ROOT);
    let child = create(&parent);
    let grandchild = create(&child);

    let revoked = s.write("auth/token/revoke-orphan", json!({ "token": parent }));
    assert_eq!(revoked.status, 204, "{:?}", revoked.json);
    let lookup = |token: &str| s.call("GET", "auth/token/lookup-self", token, None);
    assert_eq!(lookup(&parent).status, 403);
    let child_seen = lookup(&child);
    assert_eq!(child_seen.status, 200);
    assert_eq!(child_seen.data("orphan"), true);
    assert_eq!(lookup(&grandchild).data("orphan"), false);

    // The orphaned child still owns its own children.
    assert_eq!(
        s.write("auth/token/revoke", json!({ "token": child }))
            .status,
        204
    );
    assert_eq!(lookup(&grandchild).status, 403);
}

#[test]
fn refusals_have_vaults_texts_and_sudo_is_checked_by_the_handler() {
    let s = Server::dev();
    let refused = |token: &str, body: serde_json::Value| {
        let reply = s.call("POST", "auth/token/revoke-orphan", token, Some(body));
        (reply.status, reply.errors())
    };
    assert_eq!(
        refused(common::ROOT, json!({})),
        (400, vec!["missing token ID".to_string()])
    );
    assert_eq!(
        refused(common::ROOT, json!({"token": "no-such-token"})),
        (400, vec!["token to revoke not found".to_string()])
    );

    let update = "path \"auth/token/revoke-orphan\" { capabilities = [\"update\"] }";
    let sudo = "path \"auth/token/revoke-orphan\" { capabilities = [\"update\", \"sudo\"] }";
    for (name, policy) in [("orphaner", update), ("orphaner-sudo", sudo)] {
        assert_eq!(
            s.write(
                &format!("sys/policies/acl/{name}"),
                json!({ "policy": policy })
            )
            .status,
            204
        );
    }
    let victim = s
        .write("auth/token/create", json!({"policies": ["default"]}))
        .client_token();
    let plain = s
        .write("auth/token/create", json!({"policies": ["orphaner"]}))
        .client_token();
    let with_sudo = s
        .write("auth/token/create", json!({"policies": ["orphaner-sudo"]}))
        .client_token();
    let nothing = s
        .write("auth/token/create", json!({"policies": ["default"]}))
        .client_token();

    assert_eq!(
        refused(&plain, json!({ "token": victim })),
        (
            400,
            vec!["root or sudo privileges required to revoke and orphan".to_string()]
        )
    );
    // Without the token, that is said first, sudo or not.
    assert_eq!(
        refused(&plain, json!({})),
        (400, vec!["missing token ID".to_string()])
    );
    assert_eq!(
        refused(&nothing, json!({ "token": victim })).0,
        403,
        "without update the ACL denies first"
    );
    let done = s.call(
        "POST",
        "auth/token/revoke-orphan",
        &with_sudo,
        Some(json!({ "token": victim })),
    );
    assert_eq!(done.status, 204, "{:?}", done.json);
    assert_eq!(
        s.call("GET", "auth/token/lookup-self", &victim, None)
            .status,
        403
    );
}
