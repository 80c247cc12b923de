//! The identity secrets engine through the real server: entities, their
//! aliases (one per auth mount), groups and their inherited policies,
//! lookups and merges, the entities logins attach to, and what survives a
//! restart. Shapes and texts as OpenBao answers them (the differential
//! suite compares the two servers).

mod common;

use std::collections::BTreeSet;

use common::{Reply, Server};
use serde_json::{json, Value};

fn ok(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{:?}", r.json);
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn id_of(r: &Reply) -> String {
    r.data("id").as_str().expect("id").to_string()
}

/// Enables userpass with one user; returns the mount's accessor.
fn userpass_with_user(s: &Server, user: &str, policies: &str) -> String {
    ok(
        &s.write("sys/auth/userpass", json!({"type": "userpass"})),
        204,
    );
    ok(
        &s.write(
            &format!("auth/userpass/users/{user}"),
            json!({"password": "pw", "token_policies": policies}),
        ),
        204,
    );
    s.read("sys/auth").json["userpass/"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string()
}

fn login(s: &Server, user: &str) -> Reply {
    s.send(
        "PUT",
        &format!("auth/userpass/login/{user}"),
        None,
        Some(br#"{"password":"pw"}"#.to_vec()),
    )
}

#[test]
fn entities_are_created_read_updated_listed_and_deleted() {
    let s = Server::dev();
    let r = s.write(
        "identity/entity",
        json!({"name": "alice", "metadata": {"team": "a"}, "policies": "p2,p1"}),
    );
    ok(&r, 200);
    assert_eq!(keys(&r.json["data"]), set(&["aliases", "id", "name"]));
    assert_eq!(r.data("aliases"), &Value::Null);
    let alice = id_of(&r);

    let unnamed = s.write("identity/entity", json!({}));
    ok(&unnamed, 200);
    let generated = unnamed.data("name").as_str().unwrap_or_default();
    assert!(generated.starts_with("entity_"), "{generated}");

    let r = s.read("identity/entity/name/alice");
    ok(&r, 200);
    assert_eq!(
        keys(&r.json["data"]),
        set(&[
            "aliases",
            "creation_time",
            "direct_group_ids",
            "disabled",
            "group_ids",
            "id",
            "inherited_group_ids",
            "last_update_time",
            "merged_entity_ids",
            "metadata",
            "name",
            "namespace_id",
            "policies"
        ])
    );
    assert_eq!(r.data("id"), alice.as_str());
    assert_eq!(r.data("aliases"), &json!([]));
    assert_eq!(r.data("group_ids"), &json!([]));
    assert_eq!(r.data("merged_entity_ids"), &Value::Null);
    assert_eq!(r.data("metadata"), &json!({"team": "a"}));
    assert_eq!(r.data("namespace_id"), "root");
    assert_eq!(r.data("policies"), &json!(["p1", "p2"]));
    // An entity without policies or metadata: [] and null.
    let r = s.read(&format!("identity/entity/id/{}", id_of(&unnamed)));
    assert_eq!(r.data("policies"), &json!([]));
    assert_eq!(r.data("metadata"), &Value::Null);

    // Writing an existing name updates it: 204.
    ok(
        &s.write(
            "identity/entity",
            json!({"name": "alice", "policies": ["only"]}),
        ),
        204,
    );
    ok(
        &s.write("identity/entity/name/alice", json!({"disabled": true})),
        204,
    );
    let r = s.read(&format!("identity/entity/id/{alice}"));
    assert_eq!(r.data("policies"), &json!(["only"]));
    assert_eq!(r.data("disabled"), true);
    assert_eq!(r.data("metadata"), &json!({"team": "a"}));

    // Another entity's name is taken; an unknown id is refused.
    let r = s.write(
        &format!("identity/entity/id/{}", id_of(&unnamed)),
        json!({"name": "alice"}),
    );
    ok(&r, 400);
    assert_eq!(r.errors(), ["entity name is already in use"]);
    let r = s.write("identity/entity/id/nonexistent", json!({"policies": "x"}));
    ok(&r, 400);
    assert_eq!(r.errors(), ["entity not found from id"]);
    let r = s.write("identity/entity", json!({"id": "nonexistent"}));
    assert_eq!(r.errors(), ["entity not found from id"]);
    // A POST to an unknown name creates it.
    ok(&s.write("identity/entity/name/bob", json!({})), 200);

    let r = s.list("identity/entity/id");
    ok(&r, 200);
    assert_eq!(r.data("keys").as_array().map(Vec::len), Some(3));
    assert_eq!(r.data("key_info")[&alice], json!({"name": "alice"}));
    let r = s.list("identity/entity/name");
    let names: BTreeSet<String> = serde_json::from_value(r.data("keys").clone()).unwrap();
    assert!(
        names.contains("alice") && names.contains("bob"),
        "{names:?}"
    );

    ok(&s.delete("identity/entity/name/bob"), 204);
    ok(&s.delete("identity/entity/name/bob"), 204);
    ok(&s.read("identity/entity/name/bob"), 404);
    ok(&s.delete(&format!("identity/entity/id/{alice}")), 204);
    ok(&s.read(&format!("identity/entity/id/{alice}")), 404);

    let r = s.write("identity/entity/batch-delete", json!({}));
    assert_eq!(r.errors(), ["missing entity ids to delete"]);
    ok(
        &s.write(
            "identity/entity/batch-delete",
            json!({"entity_ids": [id_of(&unnamed), "nonexistent"]}),
        ),
        204,
    );
    ok(&s.list("identity/entity/id"), 404);
}

#[test]
fn an_entity_has_one_alias_per_auth_mount() {
    let s = Server::dev();
    let accessor = userpass_with_user(&s, "u1", "");
    let alice = id_of(&s.write("identity/entity", json!({"name": "alice"})));

    let r = s.write(
        "identity/entity-alias",
        json!({"name": "bob", "canonical_id": alice, "mount_accessor": accessor,
               "custom_metadata": {"k": "v"}}),
    );
    ok(&r, 200);
    assert_eq!(keys(&r.json["data"]), set(&["canonical_id", "id"]));
    assert_eq!(r.data("canonical_id"), alice.as_str());
    let alias = id_of(&r);

    let r = s.write(
        "identity/entity-alias",
        json!({"name": "bob2", "canonical_id": alice, "mount_accessor": accessor}),
    );
    ok(&r, 400);
    assert_eq!(
        r.errors(),
        ["Alias already exists for requested entity and mount accessor"]
    );
    for (body, error) in [
        (
            json!({"name": "x", "mount_accessor": "nope"}),
            "invalid mount accessor \"nope\"",
        ),
        (
            json!({"name": "x"}),
            "'id' or 'mount_accessor' and 'name' must be provided",
        ),
        (
            json!({"name": "x", "mount_accessor": accessor, "canonical_id": "nonexistent"}),
            "invalid canonical ID",
        ),
    ] {
        let r = s.write("identity/entity-alias", body);
        ok(&r, 400);
        assert_eq!(r.errors(), [error]);
    }
    let r = s.write("identity/entity-alias/id/nonexistent", json!({"name": "x"}));
    assert_eq!(r.errors(), ["invalid alias ID provided"]);

    let r = s.read(&format!("identity/entity-alias/id/{alias}"));
    ok(&r, 200);
    assert_eq!(
        keys(&r.json["data"]),
        set(&[
            "canonical_id",
            "creation_time",
            "custom_metadata",
            "id",
            "last_update_time",
            "local",
            "merged_from_canonical_ids",
            "metadata",
            "mount_accessor",
            "mount_path",
            "mount_type",
            "name",
            "namespace_id"
        ])
    );
    assert_eq!(r.data("mount_path"), "auth/userpass/");
    assert_eq!(r.data("mount_type"), "userpass");
    assert_eq!(r.data("custom_metadata"), &json!({"k": "v"}));
    let entity = s.read(&format!("identity/entity/id/{alice}"));
    assert_eq!(entity.data("aliases")[0]["id"], alias.as_str());

    // Without a canonical id, a new alias brings a new entity.
    let r = s.write(
        "identity/entity-alias",
        json!({"name": "zed", "mount_accessor": accessor}),
    );
    ok(&r, 200);
    assert_ne!(r.data("canonical_id"), alice.as_str());
    let zed_entity = r.data("canonical_id").as_str().unwrap().to_string();

    let r = s.list("identity/entity-alias/id");
    ok(&r, 200);
    assert_eq!(r.data("keys").as_array().map(Vec::len), Some(2));
    assert_eq!(
        keys(&r.data("key_info")[&alias]),
        set(&[
            "canonical_id",
            "custom_metadata",
            "local",
            "metadata",
            "mount_accessor",
            "mount_path",
            "mount_type",
            "name"
        ])
    );

    // Moving bob to zed's entity is refused (zed has the mount); once
    // zed's alias is gone it moves, keeping its id.
    let r = s.write(
        "identity/entity-alias",
        json!({"name": "bob", "mount_accessor": accessor, "canonical_id": zed_entity}),
    );
    ok(&r, 400);
    let zed_alias = s
        .read(&format!("identity/entity/id/{zed_entity}"))
        .data("aliases")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &s.delete(&format!("identity/entity-alias/id/{zed_alias}")),
        204,
    );
    ok(
        &s.delete(&format!("identity/entity-alias/id/{zed_alias}")),
        204,
    );
    let r = s.write(
        "identity/entity-alias",
        json!({"name": "bob", "mount_accessor": accessor, "canonical_id": zed_entity}),
    );
    ok(&r, 200);
    assert_eq!(r.data("id"), alias.as_str());
    assert_eq!(
        s.read(&format!("identity/entity/id/{alice}"))
            .data("aliases"),
        &json!([])
    );

    // Deleting the entity takes its aliases with it.
    ok(&s.delete(&format!("identity/entity/id/{zed_entity}")), 204);
    ok(&s.read(&format!("identity/entity-alias/id/{alias}")), 404);
}

#[test]
fn groups_nest_and_members_inherit_them() {
    let s = Server::dev();
    let alice = id_of(&s.write("identity/entity", json!({"name": "alice"})));
    let r = s.write(
        "identity/group",
        json!({"name": "inner", "policies": "gp2,gp1", "member_entity_ids": [alice],
               "metadata": {"x": "y"}}),
    );
    ok(&r, 200);
    assert_eq!(keys(&r.json["data"]), set(&["id", "name"]));
    let inner = id_of(&r);
    let outer = id_of(&s.write(
        "identity/group",
        json!({"name": "outer", "member_group_ids": [inner]}),
    ));

    let r = s.read("identity/group/name/inner");
    ok(&r, 200);
    assert_eq!(
        keys(&r.json["data"]),
        set(&[
            "alias",
            "creation_time",
            "id",
            "last_update_time",
            "member_entity_ids",
            "member_group_ids",
            "metadata",
            "modify_index",
            "name",
            "namespace_id",
            "parent_group_ids",
            "policies",
            "type"
        ])
    );
    assert_eq!(r.data("alias"), &json!({}));
    assert_eq!(r.data("member_group_ids"), &Value::Null);
    assert_eq!(r.data("parent_group_ids"), &json!([outer]));
    assert_eq!(r.data("policies"), &json!(["gp1", "gp2"]));
    assert_eq!(r.data("type"), "internal");
    assert_eq!(r.data("modify_index"), 2, "its parent changed once");
    let r = s.read(&format!("identity/group/id/{outer}"));
    assert_eq!(r.data("policies"), &Value::Null);
    assert_eq!(r.data("modify_index"), 1);

    let r = s.read(&format!("identity/entity/id/{alice}"));
    assert_eq!(r.data("direct_group_ids"), &json!([inner]));
    assert_eq!(r.data("inherited_group_ids"), &json!([outer]));
    assert_eq!(r.data("group_ids"), &json!([inner, outer]));

    // Bad members, self-membership and cycles are refused.
    let r = s.write(
        "identity/group",
        json!({"name": "g", "member_entity_ids": ["nonexistent"]}),
    );
    ok(&r, 400);
    assert_eq!(
        r.errors(),
        ["1 error occurred:\n\t* invalid entity ID \"nonexistent\"\n\n"]
    );
    let r = s.write(
        "identity/group",
        json!({"name": "g", "member_group_ids": ["nonexistent"]}),
    );
    assert_eq!(
        r.errors(),
        ["1 error occurred:\n\t* invalid member group ID \"nonexistent\"\n\n"]
    );
    let r = s.write(
        &format!("identity/group/id/{outer}"),
        json!({"member_group_ids": [outer]}),
    );
    assert_eq!(
        r.errors(),
        [format!(
            "1 error occurred:\n\t* member group ID \"{outer}\" is same as the ID of the group\n\n"
        )]
    );
    let r = s.write(
        &format!("identity/group/id/{inner}"),
        json!({"member_group_ids": [outer]}),
    );
    ok(&r, 400);
    assert_eq!(
        r.errors(),
        [format!(
            "cyclic relationship detected for member group ID \"{outer}\""
        )]
    );
    let r = s.write("identity/group", json!({"name": "g", "type": "bogus"}));
    assert_eq!(r.errors(), ["invalid group type \"bogus\""]);
    let r = s.write(
        "identity/group",
        json!({"name": "g", "type": "external", "member_entity_ids": [alice]}),
    );
    assert_eq!(
        r.errors(),
        ["member entities can't be set manually for external groups"]
    );
    let r = s.write("identity/group/name/outer", json!({"type": "external"}));
    assert_eq!(r.errors(), ["group type cannot be changed"]);
    let r = s.write("identity/group/id/nonexistent", json!({"policies": "a"}));
    assert_eq!(r.errors(), ["invalid group ID"]);

    let r = s.list("identity/group/id");
    assert_eq!(
        r.data("key_info")[&inner],
        json!({"name": "inner", "num_member_entities": 1, "num_parent_groups": 1})
    );
    let r = s.list("identity/group/name");
    assert_eq!(
        serde_json::from_value::<BTreeSet<String>>(r.data("keys").clone()).unwrap(),
        set(&["inner", "outer"])
    );

    // Deleting a group removes it from its parents and its members' lists.
    ok(&s.delete("identity/group/name/inner"), 204);
    ok(&s.delete("identity/group/name/inner"), 204);
    assert_eq!(
        s.read(&format!("identity/group/id/{outer}"))
            .data("member_group_ids"),
        &Value::Null
    );
    assert_eq!(
        s.read(&format!("identity/entity/id/{alice}"))
            .data("group_ids"),
        &json!([])
    );
    ok(&s.read("identity/group/name/inner"), 404);
}

#[test]
fn lookups_take_exactly_one_criterion() {
    let s = Server::dev();
    let accessor = userpass_with_user(&s, "u1", "");
    let alice = id_of(&s.write("identity/entity", json!({"name": "alice"})));
    let alias = id_of(&s.write(
        "identity/entity-alias",
        json!({"name": "Bob", "canonical_id": alice, "mount_accessor": accessor}),
    ));
    let group = id_of(&s.write("identity/group", json!({"name": "team"})));

    for query in [
        json!({"name": "alice"}),
        json!({"name": "ALICE"}),
        json!({"id": alice}),
        json!({"alias_id": alias}),
        json!({"alias_name": "bob", "alias_mount_accessor": accessor}),
    ] {
        let r = s.write("identity/lookup/entity", query.clone());
        ok(&r, 200);
        assert_eq!(r.data("id"), alice.as_str(), "{query}");
        assert_eq!(r.data("namespace_id"), "root");
    }
    ok(
        &s.write("identity/lookup/entity", json!({"name": "nobody"})),
        204,
    );
    let r = s.write("identity/lookup/entity", json!({}));
    ok(&r, 400);
    assert_eq!(r.errors(), ["query parameter not supplied"]);
    let r = s.write(
        "identity/lookup/entity",
        json!({"name": "alice", "id": alice}),
    );
    assert_eq!(
        r.errors(),
        ["query parameter conflict; please supply distinct set of query parameters"]
    );

    let r = s.write("identity/lookup/group", json!({"name": "team"}));
    ok(&r, 200);
    assert_eq!(r.data("id"), group.as_str());
    ok(&s.write("identity/lookup/group", json!({"id": alice})), 204);
    let r = s.write("identity/lookup/group", json!({}));
    assert_eq!(r.errors(), ["query parameter not supplied"]);
}

#[test]
fn merging_moves_aliases_and_memberships_and_refuses_clashes() {
    let s = Server::dev();
    let accessor = userpass_with_user(&s, "u1", "");
    let to = id_of(&s.write("identity/entity", json!({"name": "to"})));
    let from = id_of(&s.write("identity/entity", json!({"name": "from"})));
    let to_alias = id_of(&s.write(
        "identity/entity-alias",
        json!({"name": "a", "canonical_id": to, "mount_accessor": accessor}),
    ));
    let from_alias = id_of(&s.write(
        "identity/entity-alias",
        json!({"name": "b", "canonical_id": from, "mount_accessor": accessor}),
    ));
    let group = id_of(&s.write(
        "identity/group",
        json!({"name": "g", "member_entity_ids": [from]}),
    ));

    for (body, error) in [
        (
            json!({"from_entity_ids": [from]}),
            "missing entity id to merge to",
        ),
        (
            json!({"to_entity_id": to}),
            "missing entity ids to merge from",
        ),
        (
            json!({"from_entity_ids": ["nonexistent"], "to_entity_id": to}),
            "entity id to merge from is invalid",
        ),
        (
            json!({"from_entity_ids": [from], "to_entity_id": "nonexistent"}),
            "entity id to merge to is invalid",
        ),
    ] {
        let r = s.write("identity/entity/merge", body);
        ok(&r, 400);
        assert_eq!(r.errors(), [error]);
    }
    let r = s.write(
        "identity/entity/merge",
        json!({"from_entity_ids": [from], "to_entity_id": to}),
    );
    ok(&r, 400);
    assert_eq!(
        r.errors(),
        [format!(
            "2 errors occurred:\n\t* toEntity and at least one fromEntity have aliases with the same mount accessor, repeat the merge request specifying exactly one fromEntity, clashes: \n\t* mountAccessor: {accessor}, toEntity ID: {to}, fromEntity ID: {from}, conflicting toEntity alias ID: {to_alias}, conflicting fromEntity alias ID: {from_alias}\n\n"
        )]
    );
    assert_eq!(
        r.json["data"],
        json!([
            {"alias": "a", "entity": "to", "entity_id": to, "mount": "userpass", "mount_path": "auth/userpass/"},
            {"alias": "b", "entity": "from", "entity_id": from, "mount": "userpass", "mount_path": "auth/userpass/"},
        ])
    );

    // Keeping the `from` alias resolves the clash.
    ok(
        &s.write(
            "identity/entity/merge",
            json!({"from_entity_ids": [from], "to_entity_id": to,
                   "conflicting_alias_ids_to_keep": [from_alias]}),
        ),
        204,
    );
    ok(&s.read(&format!("identity/entity/id/{from}")), 404);
    let r = s.read(&format!("identity/entity/id/{to}"));
    assert_eq!(r.data("merged_entity_ids"), &json!([from]));
    let aliases = r.data("aliases").as_array().cloned().unwrap_or_default();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0]["id"], from_alias.as_str());
    assert_eq!(aliases[0]["canonical_id"], to.as_str());
    assert_eq!(aliases[0]["merged_from_canonical_ids"], json!([from]));
    assert_eq!(r.data("direct_group_ids"), &json!([group]));
    ok(
        &s.read(&format!("identity/entity-alias/id/{to_alias}")),
        404,
    );
}

#[test]
fn logins_attach_to_one_entity_whose_policies_join_the_tokens() {
    let s = Server::dev();
    let accessor = userpass_with_user(&s, "u1", "tp");
    ok(
        &s.write(
            "sys/policies/acl/ep",
            json!({"policy": "path \"secret/data/ep\" { capabilities = [\"read\"] }"}),
        ),
        204,
    );
    ok(
        &s.write(
            "sys/policies/acl/gp",
            json!({"policy": "path \"secret/data/gp\" { capabilities = [\"read\"] }"}),
        ),
        204,
    );
    ok(&s.write("secret/data/ep", json!({"data": {"v": 1}})), 200);
    ok(&s.write("secret/data/gp", json!({"data": {"v": 2}})), 200);

    let first = login(&s, "u1");
    ok(&first, 200);
    let entity = first.json["auth"]["entity_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(first.json["auth"].get("identity_policies"), None);
    let r = s.write(
        "identity/lookup/entity",
        json!({"alias_name": "u1", "alias_mount_accessor": accessor}),
    );
    ok(&r, 200);
    assert_eq!(r.data("id"), entity.as_str());
    assert!(r.data("name").as_str().unwrap().starts_with("entity_"));
    let alias = &r.data("aliases")[0];
    assert_eq!(alias["name"], "u1");
    assert_eq!(alias["mount_type"], "userpass");
    assert_eq!(alias["custom_metadata"], Value::Null);

    // The entity's policies, and its group's, apply to tokens already
    // issued: they are looked up at each use.
    let token = first.client_token();
    ok(&s.call("GET", "secret/data/ep", &token, None), 403);
    ok(
        &s.write(
            &format!("identity/entity/id/{entity}"),
            json!({"policies": "ep"}),
        ),
        204,
    );
    ok(&s.call("GET", "secret/data/ep", &token, None), 200);
    ok(&s.call("GET", "secret/data/gp", &token, None), 403);
    ok(
        &s.write(
            "identity/group",
            json!({"name": "g", "policies": "gp", "member_entity_ids": [entity]}),
        ),
        200,
    );
    ok(&s.call("GET", "secret/data/gp", &token, None), 200);
    let r = s.call("GET", "auth/token/lookup-self", &token, None);
    assert_eq!(r.data("entity_id"), entity.as_str());
    assert_eq!(r.data("identity_policies"), &json!(["ep", "gp"]));
    assert_eq!(r.data("external_namespace_policies"), &json!({}));
    assert_eq!(r.data("policies"), &json!(["default", "tp"]));

    let second = login(&s, "u1");
    assert_eq!(second.json["auth"]["entity_id"], entity.as_str());
    assert_eq!(
        second.json["auth"]["identity_policies"],
        json!(["ep", "gp"])
    );
    assert_eq!(
        second.json["auth"]["policies"],
        json!(["default", "ep", "gp", "tp"])
    );
    assert_eq!(
        second.json["auth"]["token_policies"],
        json!(["default", "tp"])
    );

    // A disabled entity's tokens and logins are refused.
    ok(
        &s.write(
            &format!("identity/entity/id/{entity}"),
            json!({"disabled": true}),
        ),
        204,
    );
    let r = s.call("GET", "auth/token/lookup-self", &token, None);
    ok(&r, 403);
    assert_eq!(r.errors(), ["permission denied"]);
    let r = login(&s, "u1");
    ok(&r, 403);
    assert_eq!(r.errors(), ["permission denied"]);
    ok(
        &s.write(
            &format!("identity/entity/id/{entity}"),
            json!({"disabled": false}),
        ),
        204,
    );
    ok(&s.call("GET", "secret/data/ep", &token, None), 200);

    // Without the entity, its policies are gone.
    ok(&s.delete(&format!("identity/entity/id/{entity}")), 204);
    ok(&s.call("GET", "secret/data/ep", &token, None), 403);
}

#[test]
fn an_approle_login_is_an_alias_named_by_its_role_id() {
    let s = Server::dev();
    ok(
        &s.write("sys/auth/approle", json!({"type": "approle"})),
        204,
    );
    ok(&s.write("auth/approle/role/r", json!({})), 204);
    let role_id = s
        .read("auth/approle/role/r/role-id")
        .data("role_id")
        .as_str()
        .unwrap()
        .to_string();
    let secret_id = s
        .write("auth/approle/role/r/secret-id", json!({}))
        .data("secret_id")
        .as_str()
        .unwrap()
        .to_string();
    let r = s.send(
        "PUT",
        "auth/approle/login",
        None,
        Some(
            json!({"role_id": role_id, "secret_id": secret_id})
                .to_string()
                .into_bytes(),
        ),
    );
    ok(&r, 200);
    let entity = r.json["auth"]["entity_id"].as_str().unwrap().to_string();
    let r = s.read(&format!("identity/entity/id/{entity}"));
    assert_eq!(r.data("aliases")[0]["name"], role_id.as_str());
    assert_eq!(r.data("aliases")[0]["mount_path"], "auth/approle/");
    assert_eq!(r.data("aliases")[0]["metadata"], json!({"role_name": "r"}));
}

#[test]
fn an_approle_alias_takes_its_logins_metadata_which_policy_templates_read() {
    let s = Server::dev();
    ok(
        &s.write("sys/auth/approle", json!({"type": "approle"})),
        204,
    );
    let accessor = s.read("sys/auth").json["approle/"]["accessor"]
        .as_str()
        .unwrap()
        .to_string();
    let rule = format!(
        "path \"secret/data/{{{{identity.entity.aliases.{accessor}.metadata.tag}}}}\" \
         {{ capabilities = [\"read\"] }}"
    );
    ok(
        &s.write("sys/policies/acl/tagged", json!({ "policy": rule })),
        204,
    );
    ok(
        &s.write("auth/approle/role/r", json!({"token_policies": "tagged"})),
        204,
    );
    ok(&s.write("secret/data/blue", json!({"data": {"v": 1}})), 200);
    ok(&s.write("secret/data/red", json!({"data": {"v": 2}})), 200);
    let role_id = s
        .read("auth/approle/role/r/role-id")
        .data("role_id")
        .as_str()
        .unwrap()
        .to_string();
    let login_with_tag = |tag: &str| {
        let secret_id = s
            .write(
                "auth/approle/role/r/secret-id",
                json!({ "metadata": json!({ "tag": tag }).to_string() }),
            )
            .data("secret_id")
            .as_str()
            .unwrap()
            .to_string();
        let body = json!({"role_id": role_id, "secret_id": secret_id});
        let r = s.send(
            "PUT",
            "auth/approle/login",
            None,
            Some(body.to_string().into_bytes()),
        );
        ok(&r, 200);
        r
    };

    let blue = login_with_tag("blue");
    let token = blue.client_token();
    let entity = blue.json["auth"]["entity_id"].as_str().unwrap().to_string();
    let alias = |s: &Server| {
        s.read(&format!("identity/entity/id/{entity}"))
            .data("aliases")[0]
            .clone()
    };
    assert_eq!(
        alias(&s)["metadata"],
        json!({"role_name": "r", "tag": "blue"})
    );
    ok(&s.call("GET", "secret/data/blue", &token, None), 200);
    ok(&s.call("GET", "secret/data/red", &token, None), 403);

    // The next login's metadata replace the alias's, for every token of
    // the entity.
    let red = login_with_tag("red");
    assert_eq!(red.json["auth"]["entity_id"], entity.as_str());
    assert_eq!(
        alias(&s)["metadata"],
        json!({"role_name": "r", "tag": "red"})
    );
    ok(&s.call("GET", "secret/data/red", &token, None), 200);
    ok(&s.call("GET", "secret/data/blue", &token, None), 403);
}

#[test]
fn groups_are_looked_up_by_their_alias() {
    let s = Server::dev();
    let accessor = userpass_with_user(&s, "u1", "");
    let group = id_of(&s.write("identity/group", json!({"name": "ext", "type": "external"})));
    let alias = id_of(&s.write(
        "identity/group-alias",
        json!({"name": "devs", "mount_accessor": accessor, "canonical_id": group}),
    ));
    for query in [
        json!({"alias_id": alias}),
        json!({"alias_name": "devs", "alias_mount_accessor": accessor}),
    ] {
        let r = s.write("identity/lookup/group", query);
        ok(&r, 200);
        assert_eq!(r.data("id"), group.as_str());
        assert_eq!(r.data("alias")["id"], alias.as_str());
    }
    for query in [
        json!({"alias_id": "nope"}),
        json!({"alias_name": "nope", "alias_mount_accessor": accessor}),
    ] {
        ok(&s.write("identity/lookup/group", query), 204);
    }
    for (query, error) in [
        (
            json!({"alias_name": "devs"}),
            "both 'alias_name' and 'alias_mount_accessor' needs to be set",
        ),
        (
            json!({"alias_id": alias, "alias_name": "devs"}),
            "query parameter conflict; please supply distinct set of query parameters",
        ),
    ] {
        let r = s.write("identity/lookup/group", query);
        ok(&r, 400);
        assert_eq!(r.errors(), [error]);
    }
}

#[test]
fn concurrent_first_logins_of_one_alias_make_one_entity() {
    let s = Server::dev();
    userpass_with_user(&s, "u1", "");
    let entities: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| login(&s, "u1"))).collect();
        handles
            .into_iter()
            .map(|h| {
                let r = h.join().expect("login thread");
                assert_eq!(r.status, 200, "{:?}", r.json);
                r.json["auth"]["entity_id"].as_str().unwrap().to_string()
            })
            .collect()
    });
    let distinct: BTreeSet<&String> = entities.iter().collect();
    assert_eq!(distinct.len(), 1, "{entities:?}");
    let r = s.list("identity/entity/id");
    assert_eq!(r.data("keys"), &json!([entities[0]]));
    assert_eq!(
        s.list("identity/entity-alias/id")
            .data("keys")
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn entities_and_groups_survive_a_restart() {
    let dir = common::temp_dir("identity-durable");
    let unseal = |s: &Server, key: &str| {
        s.send(
            "PUT",
            "sys/unseal",
            None,
            Some(json!({"key": key}).to_string().into_bytes()),
        )
    };
    let first = Server::durable(&dir);
    let init = first.send(
        "PUT",
        "sys/init",
        None,
        Some(br#"{"secret_shares":1,"secret_threshold":1}"#.to_vec()),
    );
    ok(&init, 200);
    let root = init.json["root_token"].as_str().unwrap().to_string();
    let key = init.json["keys"][0].as_str().unwrap().to_string();
    unseal(&first, &key);
    let entity = first.call(
        "POST",
        "identity/entity",
        &root,
        Some(json!({"name": "kept"})),
    );
    ok(&entity, 200);
    let group = first.call(
        "POST",
        "identity/group",
        &root,
        Some(json!({"name": "g", "member_entity_ids": [id_of(&entity)]})),
    );
    ok(&group, 200);
    first.stop();

    let second = Server::durable(&dir);
    unseal(&second, &key);
    let r = second.call("GET", "identity/entity/name/kept", &root, None);
    ok(&r, 200);
    assert_eq!(r.data("id"), id_of(&entity).as_str());
    assert_eq!(r.data("direct_group_ids"), &json!([id_of(&group)]));
    ok(
        &second.call("GET", "identity/group/name/g", &root, None),
        200,
    );
    second.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn templated_policies_fill_paths_from_the_tokens_entity() {
    let s = Server::dev();
    let accessor = userpass_with_user(&s, "u1", "tmpl");
    let policy = format!(
        r#"
path "secret/data/{{{{identity.entity.name}}}}/*" {{ capabilities = ["read"] }}
path "secret/data/meta/{{{{identity.entity.metadata.team}}}}" {{ capabilities = ["read"] }}
path "secret/data/alias/{{{{identity.entity.aliases.{accessor}.name}}}}" {{ capabilities = ["read"] }}
path "secret/data/group/{{{{identity.groups.names.ops.id}}}}" {{ capabilities = ["read"] }}
path "secret/data/missing/{{{{identity.entity.metadata.nope}}}}" {{ capabilities = ["read"] }}
"#
    );
    ok(
        &s.write("sys/policies/acl/tmpl", json!({"policy": policy})),
        204,
    );
    let r = login(&s, "u1");
    let token = r.client_token();
    let entity = r.json["auth"]["entity_id"].as_str().unwrap().to_string();
    ok(
        &s.write(
            &format!("identity/entity/id/{entity}"),
            json!({"name": "alice", "metadata": {"team": "blue"}}),
        ),
        204,
    );
    let group = id_of(&s.write(
        "identity/group",
        json!({"name": "ops", "member_entity_ids": [entity]}),
    ));
    for path in [
        "secret/data/alice/x",
        "secret/data/bob/x",
        "secret/data/meta/blue",
        "secret/data/alias/u1",
        &format!("secret/data/group/{group}"),
    ] {
        ok(&s.write(path, json!({"data": {"v": 1}})), 200);
    }
    let read = |path: &str| s.call("GET", path, &token, None).status;
    assert_eq!(read("secret/data/alice/x"), 200);
    assert_eq!(read("secret/data/bob/x"), 403);
    assert_eq!(read("secret/data/meta/blue"), 200);
    assert_eq!(read("secret/data/alias/u1"), 200);
    assert_eq!(read(&format!("secret/data/group/{group}")), 200);
    // A value the entity's owner may choose cannot turn into a wildcard.
    ok(
        &s.write(
            &format!("identity/entity/id/{entity}"),
            json!({"name": "alice", "metadata": {"team": "+"}}),
        ),
        204,
    );
    assert_eq!(read("secret/data/meta/blue"), 403);
    assert_eq!(read("secret/data/meta/+"), 403);
    // An unresolvable template matches nothing, not even its literal text.
    assert_eq!(read("secret/data/missing/"), 403);
    assert_eq!(
        read("secret/data/missing/{{identity.entity.metadata.nope}}"),
        403
    );
    // The default policy lets a token read its own entity, and no other.
    assert_eq!(read(&format!("identity/entity/id/{entity}")), 200);
    assert_eq!(read("identity/entity/name/alice"), 200);
    let other = id_of(&s.write("identity/entity", json!({"name": "other"})));
    assert_eq!(read(&format!("identity/entity/id/{other}")), 403);
    // A token without an entity gets none of the templated paths.
    let plain = s
        .write("auth/token/create", json!({"policies": ["tmpl"]}))
        .client_token();
    assert_eq!(
        s.call("GET", "secret/data/alice/x", &plain, None).status,
        403
    );
}
