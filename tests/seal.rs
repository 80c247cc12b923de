//! Seal and unseal: a durable store is encrypted at rest, starts sealed,
//! opens with a threshold of Shamir shares (or by itself with a static
//! key), and refuses everything else with 503 while sealed.

mod common;

use common::{Server, LISTEN};
use serde_json::{json, Value};

fn put(s: &Server, path: &str, body: Value) -> common::Reply {
    s.send("PUT", path, None, Some(body.to_string().into_bytes()))
}

#[test]
fn init_splits_the_key_and_three_of_five_shares_unseal() {
    let dir = common::temp_dir("shamir");
    let s = Server::durable(&dir);
    assert_eq!(s.send("GET", "sys/health", None, None).status, 501);
    let init = put(
        &s,
        "sys/init",
        json!({"secret_shares": 5, "secret_threshold": 3}),
    );
    assert_eq!(init.status, 200, "{:?}", init.json);
    let keys: Vec<String> = init.json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    let keys_b64 = init.json["keys_base64"].as_array().expect("keys_base64");
    assert_eq!(keys.len(), 5);
    assert_eq!(keys_b64.len(), 5);
    let root = init.json["root_token"].as_str().expect("root").to_string();

    let status = s.send("GET", "sys/seal-status", None, None).json;
    assert_eq!(
        (
            status["sealed"].clone(),
            status["t"].clone(),
            status["n"].clone()
        ),
        (json!(true), json!(3), json!(5))
    );
    assert_eq!(s.send("GET", "sys/health", None, None).status, 503);
    let sealed = s.call("GET", "sys/mounts", &root, None);
    assert_eq!(sealed.status, 503);
    assert_eq!(sealed.errors(), ["Vault is sealed"]);
    assert_eq!(
        put(
            &s,
            "sys/init",
            json!({"secret_shares": 1, "secret_threshold": 1})
        )
        .status,
        400
    );

    let first = put(&s, "sys/unseal", json!({"key": keys[0]}));
    assert_eq!(first.json["progress"], 1);
    assert!(first.json["nonce"].as_str().is_some_and(|n| !n.is_empty()));
    // The same share again does not advance.
    assert_eq!(
        put(&s, "sys/unseal", json!({"key": keys[0]})).json["progress"],
        1
    );
    assert_eq!(
        put(&s, "sys/unseal", json!({"reset": true})).json["progress"],
        0
    );
    put(&s, "sys/unseal", json!({"key": keys[4]}));
    put(&s, "sys/unseal", json!({"key": keys_b64[2]}));
    let done = put(&s, "sys/unseal", json!({"key": keys[1]}));
    assert_eq!(done.json["sealed"], false, "{:?}", done.json);
    assert_eq!(s.call("GET", "sys/mounts", &root, None).status, 200);
    assert_eq!(s.send("GET", "sys/health", None, None).status, 200);

    assert_eq!(
        put(&s, "sys/unseal", json!({"key": "not a key!"})).status,
        200,
        "already unsealed"
    );
    assert_eq!(s.call("PUT", "sys/seal", &root, None).status, 204);
    assert_eq!(
        s.send("GET", "sys/seal-status", None, None).json["sealed"],
        true
    );
    let bad = put(&s, "sys/unseal", json!({"key": "zz-not-hex-or-base64"}));
    assert_eq!(bad.status, 400);
    s.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn wrong_shares_reset_progress_and_keep_the_store_sealed() {
    let dir = common::temp_dir("wrong-shares");
    let s = Server::durable(&dir);
    let init = put(
        &s,
        "sys/init",
        json!({"secret_shares": 3, "secret_threshold": 2}),
    );
    assert_eq!(init.status, 200);
    let other = hex_of(&[7u8; 33]);
    let key = init.json["keys"][0].as_str().expect("key").to_string();
    put(&s, "sys/unseal", json!({"key": key}));
    let wrong = put(&s, "sys/unseal", json!({"key": other}));
    assert_eq!(wrong.status, 400, "{:?}", wrong.json);
    let status = s.send("GET", "sys/seal-status", None, None).json;
    assert_eq!(status["sealed"], true);
    assert_eq!(status["progress"], 0);
    let _ = std::fs::remove_dir_all(dir);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_store_file_holds_no_secret_in_clear_and_rotation_keeps_old_data_readable() {
    let dir = common::temp_dir("at-rest");
    let s = Server::durable(&dir);
    let init = put(
        &s,
        "sys/init",
        json!({"secret_shares": 1, "secret_threshold": 1}),
    );
    let root = init.json["root_token"].as_str().expect("root").to_string();
    put(&s, "sys/unseal", json!({"key": init.json["keys"][0]}));
    let marker = "policy-marker-7d1f0c";
    let policy = format!("path \"{marker}\" {{ capabilities = [\"read\"] }}");
    assert_eq!(
        s.call(
            "PUT",
            "sys/policies/acl/marked",
            &root,
            Some(json!({"policy": policy}))
        )
        .status,
        204
    );
    assert_eq!(s.call("PUT", "sys/rotate", &root, None).status, 204);
    assert_eq!(s.call("GET", "sys/key-status", &root, None).data("term"), 2);
    assert_eq!(
        s.call("GET", "sys/policies/acl/marked", &root, None).status,
        200
    );
    s.stop();
    let db = std::fs::read(dir.join("data").join("vaultlet.redb")).expect("db");
    let contains = |needle: &str| db.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!contains(marker), "policy text stored in clear");
    assert!(!contains(&root), "root token stored in clear");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_static_seal_unseals_by_itself_after_a_restart() {
    let dir = common::temp_dir("static-seal");
    let key_file = dir.join("unseal.key");
    std::fs::write(&key_file, hex_of(&[42u8; 32])).expect("key");
    let hcl = format!(
        "listener \"tcp\" {{\n  address = \"{LISTEN}\"\n  tls_disable = true\n}}\nstorage \"raft\" {{\n  path = \"{}\"\n}}\nseal \"static\" {{\n  current_key = \"file://{}\"\n}}\n",
        dir.join("data").display(),
        key_file.display()
    );
    let s = Server::with_config(&dir, &hcl);
    let init = put(&s, "sys/init", json!({}));
    assert_eq!(init.status, 200, "{:?}", init.json);
    let root = init.json["root_token"].as_str().expect("root").to_string();
    assert_eq!(
        s.send("GET", "sys/seal-status", None, None).json["type"],
        "static"
    );
    assert_eq!(
        s.call("GET", "sys/mounts", &root, None).status,
        200,
        "usable right after init"
    );
    s.stop();
    let again = Server::with_config(&dir, &hcl);
    assert_eq!(again.send("GET", "sys/health", None, None).status, 200);
    assert_eq!(
        again
            .call("GET", "auth/token/lookup-self", &root, None)
            .status,
        200
    );
    let _ = std::fs::remove_dir_all(dir);
}
