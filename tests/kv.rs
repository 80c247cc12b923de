//! The dev server's default secrets engines against the real binary, with
//! the shapes OpenBao/Vault answer: `secret/` (KV v2), a KV v1 mount,
//! `cubbyhole/` and `identity/`, and `sys/mounts` listing all of them.

mod common;

use common::{Server, ROOT};
use serde_json::{json, Value};

const MERGE_PATCH: &[(&str, &str)] = &[("Content-Type", "application/merge-patch+json")];

fn patch(s: &Server, path: &str, body: Value) -> common::Reply {
    s.send_with_headers(
        "PATCH",
        path,
        Some(ROOT),
        MERGE_PATCH,
        Some(body.to_string().into_bytes()),
    )
}

fn child_token(s: &Server, policies: Value) -> String {
    let created = s.write("auth/token/create", json!({ "policies": policies }));
    created.json["auth"]["client_token"]
        .as_str()
        .expect("client token")
        .to_string()
}

#[test]
fn dev_mounts_are_vaults_four() {
    let s = Server::dev();
    let list = s.read("sys/mounts");
    assert_eq!(list.status, 200);
    let data = list.json["data"].as_object().expect("mount map");
    let mut paths: Vec<&str> = data.keys().map(String::as_str).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["cubbyhole/", "identity/", "secret/", "sys/"]);

    let secret = &data["secret/"];
    assert_eq!(secret["type"], "kv");
    assert_eq!(secret["description"], "key/value secret storage");
    assert_eq!(secret["options"], json!({"version": "2"}));
    assert_eq!(secret["local"], false);
    assert!(secret["accessor"]
        .as_str()
        .is_some_and(|a| a.starts_with("kv_")));

    let cubbyhole = &data["cubbyhole/"];
    assert_eq!(cubbyhole["type"], "cubbyhole");
    assert_eq!(cubbyhole["description"], "per-token private secret storage");
    assert_eq!(cubbyhole["local"], true);
    assert_eq!(cubbyhole["options"], Value::Null);

    let identity = &data["identity/"];
    assert_eq!(identity["type"], "identity");
    assert_eq!(identity["description"], "identity store");
    assert_eq!(
        identity["config"]["passthrough_request_headers"],
        json!(["Authorization"])
    );
    assert_eq!(data["sys/"]["type"], "system");

    // The built-in engines cannot be disabled; `secret/` can.
    assert_eq!(s.delete("sys/mounts/cubbyhole").status, 400);
    assert_eq!(s.delete("sys/mounts/identity").status, 400);

    // `vault kv` learns the version from the UI mount lookup.
    let preflight = s.read("sys/internal/ui/mounts/secret/app/config");
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.data("path"), "secret/");
    assert_eq!(preflight.data("type"), "kv");
    assert_eq!(preflight.data("options"), &json!({"version": "2"}));
}

#[test]
fn kv2_writes_versions_and_reads_them_back() {
    let s = Server::dev();
    let missing = s.read("secret/data/app");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json, json!({"errors": []}));

    let first = s.write("secret/data/app", json!({"data": {"a": "1", "b": 2}}));
    assert_eq!(first.status, 200, "{:?}", first.json);
    assert_eq!(first.data("version"), 1);
    assert_eq!(first.data("destroyed"), false);
    assert_eq!(first.data("deletion_time"), "");
    assert_eq!(first.data("custom_metadata"), &Value::Null);
    let created = first.data("created_time").as_str().expect("time");
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    let keys: Vec<&str> = first.json["data"]
        .as_object()
        .expect("data")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "created_time",
            "custom_metadata",
            "deletion_time",
            "destroyed",
            "version"
        ]
    );

    let second = s.write(
        "secret/data/app",
        json!({"data": {"a": "2"}, "options": {"cas": 1}}),
    );
    assert_eq!(second.data("version"), 2);

    let stale = s.write(
        "secret/data/app",
        json!({"data": {"a": "3"}, "options": {"cas": 1}}),
    );
    assert_eq!(stale.status, 400);
    assert_eq!(
        stale.errors(),
        ["check-and-set parameter did not match the current version"]
    );
    // cas=0: only when the key does not exist yet.
    let exists = s.write(
        "secret/data/app",
        json!({"data": {"a": "3"}, "options": {"cas": 0}}),
    );
    assert_eq!(exists.status, 400);
    let fresh = s.write(
        "secret/data/fresh",
        json!({"data": {"k": "v"}, "options": {"cas": "0"}}),
    );
    assert_eq!(fresh.status, 200, "{:?}", fresh.json);

    let latest = s.read("secret/data/app");
    assert_eq!(latest.status, 200);
    assert_eq!(latest.json["data"]["data"], json!({"a": "2"}));
    assert_eq!(latest.json["data"]["metadata"]["version"], 2);
    assert_eq!(latest.json["data"]["metadata"]["deletion_time"], "");
    assert_eq!(latest.json["mount_type"], "kv");

    let v1 = s.read("secret/data/app?version=1");
    assert_eq!(v1.json["data"]["data"], json!({"a": "1", "b": 2}));
    assert_eq!(v1.json["data"]["metadata"]["version"], 1);
    assert_eq!(s.read("secret/data/app?version=9").status, 404);
    assert_eq!(s.read("secret/data/app?version=abc").status, 400);

    let no_data = s.write("secret/data/app", json!({"a": "1"}));
    assert_eq!(no_data.status, 400);
    assert_eq!(no_data.errors(), ["no data provided"]);
    let empty = s.write("secret/data/empty", json!({"data": {}}));
    assert_eq!(empty.status, 200);
    let not_a_map = s.write("secret/data/x", json!({"data": "text"}));
    assert_eq!(not_a_map.status, 400);
}

#[test]
fn kv2_soft_delete_undelete_and_destroy() {
    let s = Server::dev();
    s.write("secret/data/d", json!({"data": {"v": "1"}}));
    s.write("secret/data/d", json!({"data": {"v": "2"}}));

    assert_eq!(s.delete("secret/data/d").status, 204);
    let deleted = s.read("secret/data/d");
    assert_eq!(deleted.status, 404);
    assert_eq!(deleted.json["data"]["data"], Value::Null);
    assert_eq!(deleted.json["data"]["metadata"]["version"], 2);
    assert_eq!(deleted.json["data"]["metadata"]["destroyed"], false);
    assert!(deleted.json["data"]["metadata"]["deletion_time"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    // Older versions stay readable.
    assert_eq!(s.read("secret/data/d?version=1").status, 200);
    // Deleting again is a no-op.
    assert_eq!(s.delete("secret/data/d").status, 204);
    assert_eq!(s.delete("secret/data/never").status, 204);

    assert_eq!(
        s.write("secret/undelete/d", json!({"versions": [2]}))
            .status,
        204
    );
    let back = s.read("secret/data/d");
    assert_eq!(back.status, 200);
    assert_eq!(back.json["data"]["data"], json!({"v": "2"}));

    assert_eq!(
        s.write("secret/delete/d", json!({"versions": "1,2"}))
            .status,
        204
    );
    assert_eq!(s.read("secret/data/d?version=1").status, 404);
    assert_eq!(s.read("secret/data/d").status, 404);

    assert_eq!(
        s.write("secret/destroy/d", json!({"versions": [1]})).status,
        204
    );
    let destroyed = s.read("secret/data/d?version=1");
    assert_eq!(destroyed.status, 404);
    assert_eq!(destroyed.json["data"]["metadata"]["destroyed"], true);
    // A destroyed version cannot be undeleted.
    s.write("secret/undelete/d", json!({"versions": [1, 2]}));
    assert_eq!(s.read("secret/data/d?version=1").status, 404);
    assert_eq!(s.read("secret/data/d?version=2").status, 200);

    let none = s.write("secret/delete/d", json!({}));
    assert_eq!(none.errors(), ["No version number provided"]);
    let none = s.write("secret/undelete/d", json!({}));
    assert_eq!(none.errors(), ["No version number provided"]);
    let none = s.write("secret/destroy/d", json!({}));
    assert_eq!(none.errors(), ["no version number provided"]);
    assert_eq!(
        s.write("secret/destroy/nope", json!({"versions": [1]}))
            .status,
        204
    );
}

#[test]
fn kv2_patch_merges_into_a_new_version() {
    let s = Server::dev();
    s.write(
        "secret/data/p",
        json!({"data": {"a": "1", "n": {"x": 1, "y": [1, 2]}}}),
    );
    let patched = patch(
        &s,
        "secret/data/p",
        json!({"data": {"a": null, "n": {"x": null, "z": 3}, "c": "new"}, "options": {"cas": 1}}),
    );
    assert_eq!(patched.status, 200, "{:?}", patched.json);
    assert_eq!(patched.data("version"), 2);
    let read = s.read("secret/data/p");
    assert_eq!(
        read.json["data"]["data"],
        json!({"c": "new", "n": {"y": [1, 2], "z": 3}})
    );

    let stale = patch(
        &s,
        "secret/data/p",
        json!({"data": {"q": 1}, "options": {"cas": 1}}),
    );
    assert_eq!(stale.status, 400);
    assert_eq!(
        stale.errors(),
        ["check-and-set parameter did not match the current version"]
    );
    let no_data = patch(&s, "secret/data/p", json!({"q": 1}));
    assert_eq!(no_data.errors(), ["no data provided"]);
    assert_eq!(
        patch(&s, "secret/data/missing", json!({"data": {"q": 1}})).status,
        404
    );
    let wrong_type = s.send_with_headers(
        "PATCH",
        "secret/data/p",
        Some(ROOT),
        &[("Content-Type", "application/json")],
        Some(br#"{"data":{"q":1}}"#.to_vec()),
    );
    assert_eq!(wrong_type.status, 415);

    s.delete("secret/data/p");
    let gone = patch(&s, "secret/data/p", json!({"data": {"q": 1}}));
    assert_eq!(gone.status, 404);
    assert_eq!(gone.data("version"), 2);
}

#[test]
fn kv2_metadata_config_and_version_limits() {
    let s = Server::dev();
    for v in 1..=4 {
        s.write("secret/data/m", json!({"data": {"v": v}}));
    }
    let meta = s.read("secret/metadata/m");
    assert_eq!(meta.status, 200);
    assert_eq!(meta.data("current_version"), 4);
    assert_eq!(meta.data("oldest_version"), 0);
    assert_eq!(meta.data("max_versions"), 0);
    assert_eq!(meta.data("cas_required"), false);
    assert_eq!(meta.data("delete_version_after"), "0s");
    assert_eq!(meta.data("custom_metadata"), &Value::Null);
    assert_eq!(
        meta.data("versions")
            .as_object()
            .map(|v| v.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["1".into(), "2".into(), "3".into(), "4".into()])
    );
    assert_eq!(meta.data("versions")["1"]["destroyed"], false);

    let write = s.write(
        "secret/metadata/m",
        json!({"max_versions": 2, "custom_metadata": {"owner": "me", "n": 1}, "delete_version_after": "1h"}),
    );
    assert_eq!(write.status, 204, "{:?}", write.json);
    let fifth = s.write("secret/data/m", json!({"data": {"v": 5}}));
    assert_eq!(
        fifth.data("custom_metadata"),
        &json!({"n": "1", "owner": "me"})
    );
    // delete_version_after schedules the deletion an hour ahead.
    assert!(fifth
        .data("deletion_time")
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(s.read("secret/data/m").status, 200);
    let meta = s.read("secret/metadata/m");
    assert_eq!(meta.data("oldest_version"), 4);
    assert_eq!(meta.data("delete_version_after"), "1h0m0s");
    assert_eq!(
        meta.data("versions")
            .as_object()
            .map(|v| v.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["4".into(), "5".into()])
    );
    assert_eq!(s.read("secret/data/m?version=3").status, 404);

    let patched = patch(
        &s,
        "secret/metadata/m",
        json!({"custom_metadata": {"owner": null, "team": "x"}}),
    );
    assert_eq!(patched.status, 204, "{:?}", patched.json);
    assert_eq!(
        s.read("secret/metadata/m").data("custom_metadata"),
        &json!({"n": "1", "team": "x"})
    );
    let nested = s.write(
        "secret/metadata/m",
        json!({"custom_metadata": {"a": {"x": 1}}}),
    );
    assert_eq!(nested.status, 400);
    let negative = s.write("secret/metadata/m", json!({"delete_version_after": "-1s"}));
    assert_eq!(negative.status, 400);

    // cas_required on the key.
    s.write("secret/metadata/c", json!({"cas_required": true}));
    let without = s.write("secret/data/c", json!({"data": {"a": "1"}}));
    assert_eq!(
        without.errors(),
        ["check-and-set parameter required for this call"]
    );
    let with = s.write(
        "secret/data/c",
        json!({"data": {"a": "1"}, "options": {"cas": 0}}),
    );
    assert_eq!(with.status, 200);

    // Listing, including folders.
    s.write("secret/data/dir/inner", json!({"data": {"a": "1"}}));
    let root = s.list("secret/metadata");
    assert_eq!(root.data("keys"), &json!(["c", "dir/", "m"]));
    assert_eq!(
        s.send("GET", "secret/metadata/?list=true", Some(ROOT), None)
            .data("keys"),
        &json!(["c", "dir/", "m"])
    );
    assert_eq!(
        s.list("secret/metadata/dir").data("keys"),
        &json!(["inner"])
    );
    assert_eq!(s.list("secret/metadata/nope").status, 404);

    // Deleting the metadata removes every version.
    assert_eq!(s.delete("secret/metadata/m").status, 204);
    assert_eq!(s.read("secret/metadata/m").status, 404);
    assert_eq!(s.read("secret/data/m?version=4").status, 404);
    assert_eq!(s.delete("secret/metadata/never").status, 204);

    // Mount config.
    let config = s.read("secret/config");
    assert_eq!(
        config.json["data"],
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0})
    );
    let set = s.write(
        "secret/config",
        json!({"max_versions": 3, "cas_required": true, "delete_version_after": "2h"}),
    );
    assert_eq!(set.status, 204);
    assert_eq!(
        s.read("secret/config").json["data"],
        json!({"cas_required": true, "delete_version_after": "2h0m0s", "max_versions": 3})
    );
    let required = s.write("secret/data/new", json!({"data": {"a": "1"}}));
    assert_eq!(
        required.errors(),
        ["check-and-set parameter required for this call"]
    );
}

#[test]
fn kv2_subkeys_and_paths_outside_the_api() {
    let s = Server::dev();
    s.write(
        "secret/data/sk",
        json!({"data": {"a": 1, "n": {"y": [1], "z": {"q": 1}}}}),
    );
    let sub = s.read("secret/subkeys/sk");
    assert_eq!(sub.status, 200);
    assert_eq!(
        sub.data("subkeys"),
        &json!({"a": null, "n": {"y": null, "z": {"q": null}}})
    );
    assert_eq!(sub.data("metadata")["version"], 1);
    assert_eq!(
        s.read("secret/subkeys/sk?depth=1").data("subkeys"),
        &json!({"a": null, "n": null})
    );
    assert_eq!(s.read("secret/subkeys/none").status, 404);

    let wrong = s.read("secret/sk");
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.json["data"], Value::Null);
    assert_eq!(
        wrong.warnings(),
        ["Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation."]
    );
    let put = s.write("secret/sk", json!({"a": 1}));
    assert_eq!(put.status, 404);
    assert!(put.warnings()[0].ends_with("use 'vault kv put' for this operation."));
    let root = s.read("secret/data");
    assert_eq!(root.status, 404);
    assert_eq!(
        root.warnings(),
        ["Non-listing operations on the root of a K/V v2 mount are not supported."]
    );
    assert_eq!(s.list("secret/data").status, 405);
}

#[test]
fn kv2_writes_are_create_or_update_for_the_acl() {
    let s = Server::dev();
    s.write(
        "sys/policies/acl/create-only",
        json!({"policy": "path \"secret/data/*\" { capabilities = [\"create\", \"read\"] }"}),
    );
    let token = child_token(&s, json!(["create-only"]));
    let create = s.call(
        "PUT",
        "secret/data/acl",
        &token,
        Some(json!({"data": {"a": "1"}})),
    );
    assert_eq!(create.status, 200, "{:?}", create.json);
    let update = s.call(
        "PUT",
        "secret/data/acl",
        &token,
        Some(json!({"data": {"a": "2"}})),
    );
    assert_eq!(update.status, 403);
    assert_eq!(s.call("GET", "secret/data/acl", &token, None).status, 200);
}

#[test]
fn kv1_mounts_read_write_list_and_delete() {
    let s = Server::dev();
    assert_eq!(s.write("sys/mounts/kv", json!({"type": "kv"})).status, 204);
    assert_eq!(
        s.write(
            "sys/mounts/kv1",
            json!({"type": "kv", "options": {"version": "1"}})
        )
        .status,
        204
    );
    let bad = s.write(
        "sys/mounts/kv3",
        json!({"type": "kv", "options": {"version": "3"}}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        s.read("sys/internal/ui/mounts/kv1/x").data("options"),
        &json!({"version": "1"})
    );

    for mount in ["kv", "kv1"] {
        assert_eq!(s.read(&format!("{mount}/foo")).status, 404);
        let put = s.write(&format!("{mount}/foo"), json!({"a": "1", "n": {"x": 1}}));
        assert_eq!(put.status, 204, "{:?}", put.json);
        s.write(&format!("{mount}/a/b"), json!({"z": "1"}));
        let read = s.read(&format!("{mount}/foo"));
        assert_eq!(read.status, 200);
        assert_eq!(read.json["data"], json!({"a": "1", "n": {"x": 1}}));
        // The mount's default lease TTL, without a lease ID.
        assert_eq!(read.json["lease_duration"], 2_764_800);
        assert_eq!(read.json["lease_id"], "");
        assert_eq!(read.json["renewable"], false);
        assert_eq!(read.json["mount_type"], "kv");

        assert_eq!(s.list(mount).data("keys"), &json!(["a/", "foo"]));
        assert_eq!(
            s.list(&format!("{mount}/")).data("keys"),
            &json!(["a/", "foo"])
        );
        assert_eq!(s.list(&format!("{mount}/a")).data("keys"), &json!(["b"]));
        assert_eq!(s.list(&format!("{mount}/nope")).status, 404);

        let empty = s.write(&format!("{mount}/empty"), json!({}));
        assert_eq!(empty.status, 400);
        assert_eq!(empty.errors(), ["missing data fields"]);
        assert_eq!(s.write(mount, json!({"a": 1})).errors(), ["missing path"]);

        assert_eq!(s.delete(&format!("{mount}/foo")).status, 204);
        assert_eq!(s.read(&format!("{mount}/foo")).status, 404);
    }
    // A TTL in the entry becomes its lease duration.
    s.write("kv/ttl", json!({"a": "1", "ttl": "1h"}));
    assert_eq!(s.read("kv/ttl").json["lease_duration"], 3600);
}

#[test]
fn cubbyhole_is_private_to_each_token() {
    let s = Server::dev();
    assert_eq!(s.read("cubbyhole/x").status, 404);
    assert_eq!(s.write("cubbyhole/x", json!({"a": "1"})).status, 204);
    s.write("cubbyhole/y/z", json!({"a": "1"}));
    let read = s.read("cubbyhole/x");
    assert_eq!(read.status, 200);
    assert_eq!(read.json["data"], json!({"a": "1"}));
    assert_eq!(read.json["lease_duration"], 0);
    assert_eq!(s.list("cubbyhole").data("keys"), &json!(["x", "y/"]));
    assert_eq!(s.list("cubbyhole/y").data("keys"), &json!(["z"]));

    // Another token (with only the default policy) sees its own cubbyhole.
    let other = child_token(&s, json!(["default"]));
    assert_eq!(s.call("GET", "cubbyhole/x", &other, None).status, 404);
    assert_eq!(s.call("LIST", "cubbyhole", &other, None).status, 404);
    assert_eq!(
        s.call("PUT", "cubbyhole/x", &other, Some(json!({"mine": "1"})))
            .status,
        204
    );
    assert_eq!(
        s.call("GET", "cubbyhole/x", &other, None).json["data"],
        json!({"mine": "1"})
    );
    assert_eq!(s.read("cubbyhole/x").json["data"], json!({"a": "1"}));

    // Vault answers this input error with 500; vaultlet with a 400 (bad
    // input is never a 5xx: clients retry those).
    let empty = s.write("cubbyhole/e", json!({}));
    assert_eq!(empty.status, 400);
    assert_eq!(empty.errors(), ["missing data fields"]);

    assert_eq!(s.delete("cubbyhole/x").status, 204);
    assert_eq!(s.read("cubbyhole/x").status, 404);
    assert_eq!(
        s.call("GET", "cubbyhole/x", &other, None).status,
        200,
        "the other token's entry is untouched"
    );
}

#[test]
fn kv1_mounts_upgrade_to_v2_when_tuned_and_never_downgrade() {
    let s = Server::dev();
    s.write("sys/mounts/up", json!({"type": "kv"}));
    s.write("up/a/b", json!({"x": "1"}));
    s.write("up/config", json!({"y": "1"}));
    // What `vault kv enable-versioning up/` sends.
    let tune = s.write("sys/mounts/up/tune", json!({"options": {"version": "2"}}));
    assert_eq!(tune.status, 200, "{:?}", tune.json);
    assert!(tune.warnings()[0].starts_with("Upgrading mount from version 1 to version 2."));
    assert_eq!(
        s.read("sys/mounts/up").data("options"),
        &json!({"version": "2"})
    );
    let read = s.read("up/data/a/b");
    assert_eq!(read.status, 200, "{:?}", read.json);
    assert_eq!(read.json["data"]["data"], json!({"x": "1"}));
    assert_eq!(read.json["data"]["metadata"]["version"], 1);
    assert_eq!(
        s.read("up/data/config").json["data"]["data"],
        json!({"y": "1"})
    );
    assert_eq!(s.list("up/metadata").data("keys"), &json!(["a/", "config"]));
    assert_eq!(s.read("up/metadata/config").data("oldest_version"), 1);
    // Same version again: nothing to do.
    assert_eq!(
        s.write("sys/mounts/up/tune", json!({"options": {"version": "2"}}))
            .status,
        204
    );
    let down = s.write("sys/mounts/up/tune", json!({"options": {"version": "1"}}));
    assert_eq!(down.errors(), ["cannot downgrade mount from version 2"]);
    let bad = s.write("sys/mounts/up/tune", json!({"options": {"version": "3"}}));
    assert_eq!(bad.errors(), ["invalid version provided: 3"]);
}

#[test]
fn durable_servers_have_cubbyhole_and_identity_but_no_secret_mount() {
    let dir = common::temp_dir("kv-durable");
    let first = Server::durable(&dir);
    let init = first.send(
        "PUT",
        "sys/init",
        None,
        Some(br#"{"secret_shares":1,"secret_threshold":1}"#.to_vec()),
    );
    let root = init.json["root_token"].as_str().expect("root").to_string();
    let key = init.json["keys"][0].as_str().expect("key").to_string();
    let unseal = |s: &Server| {
        s.send(
            "PUT",
            "sys/unseal",
            None,
            Some(json!({ "key": key }).to_string().into_bytes()),
        )
    };
    unseal(&first);
    let mounts = first.call("GET", "sys/mounts", &root, None);
    let mut paths: Vec<String> = mounts.json["data"]
        .as_object()
        .expect("mounts")
        .keys()
        .cloned()
        .collect();
    paths.sort();
    assert_eq!(paths, ["cubbyhole/", "identity/", "sys/"]);
    let accessor = mounts.json["data"]["cubbyhole/"]["accessor"].clone();
    assert_eq!(
        first
            .call("PUT", "cubbyhole/kept", &root, Some(json!({"a": "1"})))
            .status,
        204
    );
    first.stop();

    let second = Server::durable(&dir);
    unseal(&second);
    let mounts = second.call("GET", "sys/mounts", &root, None);
    assert_eq!(mounts.json["data"]["cubbyhole/"]["accessor"], accessor);
    assert_eq!(
        second.call("GET", "cubbyhole/kept", &root, None).json["data"],
        json!({"a": "1"})
    );
    second.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generic_and_the_kv_version_aliases_mount_kv_as_vault_does() {
    let s = Server::dev();
    assert_eq!(
        s.write("sys/mounts/gen", json!({"type": "generic"})).status,
        204
    );
    assert_eq!(s.read("sys/mounts/gen").data("type"), "generic");
    assert_eq!(s.write("gen/app", json!({"k": "v"})).status, 204);
    assert_eq!(s.read("gen/app").data("k"), "v", "a version 1 store");

    assert_eq!(
        s.write("sys/mounts/two", json!({"type": "kv-v2"})).status,
        204
    );
    let two = s.read("sys/mounts/two");
    assert_eq!(two.data("type"), "kv");
    assert_eq!(two.data("options"), &json!({"version": "2"}));
    assert_eq!(
        s.write("sys/mounts/one", json!({"type": "kv-v1"})).status,
        204
    );
    assert_eq!(
        s.read("sys/mounts/one").data("options"),
        &json!({"version": "1"})
    );

    for kind in ["generic", "pki"] {
        let refused = s.write(
            &format!("sys/mounts/v-{kind}"),
            json!({"type": kind, "options": {"version": "2"}}),
        );
        assert_eq!(
            (refused.status, refused.errors()),
            (
                400,
                vec![format!(
                    "secrets engine \"{kind}\" does not allow setting a version"
                )]
            )
        );
    }
}
