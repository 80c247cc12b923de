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

/// What a dev server shows of its keyring and unseal key share through a
/// rotation and a seal/unseal with the key its banner printed: (step,
/// status, detail) triples.
fn dev_keyring_story(s: &Server) -> Vec<(&'static str, u16, Value)> {
    let key = s.dev_unseal_key();
    let mut story = Vec::new();
    let status = s.send("GET", "sys/seal-status", None, None).json;
    story.push((
        "seal-status",
        200,
        json!([status["type"], status["t"], status["n"], status["sealed"]]),
    ));
    let term = |s: &Server| s.read("sys/key-status").data("term").clone();
    story.push(("key-status", 200, term(s)));
    let secret = json!({"data": {"marker": "before-rotation"}});
    story.push((
        "write",
        s.write("secret/data/kept", secret).status,
        json!(null),
    ));
    story.push((
        "rotate",
        s.write("sys/rotate", json!({})).status,
        json!(null),
    ));
    story.push(("key-status after rotate", 200, term(s)));
    story.push((
        "rotate again",
        s.write("sys/rotate", json!({})).status,
        json!(null),
    ));
    story.push(("key-status after two", 200, term(s)));
    story.push(("seal", s.write("sys/seal", json!({})).status, json!(null)));
    story.push((
        "read while sealed",
        s.read("secret/data/kept").status,
        json!(null),
    ));
    let wrong = put(s, "sys/unseal", json!({"key": hex_of(&[7u8; 32])}));
    story.push(("unseal with another key", wrong.status, json!(null)));
    let unsealed = put(s, "sys/unseal", json!({"key": key}));
    story.push((
        "unseal with the printed key",
        unsealed.status,
        unsealed.json["sealed"].clone(),
    ));
    let read = s.read("secret/data/kept");
    story.push((
        "read after unseal",
        read.status,
        read.json["data"]["data"]["marker"].clone(),
    ));
    story.push(("key-status after unseal", 200, term(s)));
    story
}

#[test]
fn dev_mode_keeps_a_real_keyring_and_its_printed_key_unseals() {
    let s = Server::dev();
    let story = dev_keyring_story(&s);
    assert_eq!(story[0].2, json!(["shamir", 1, 1, false]), "{story:?}");
    assert_eq!(story[4].2, json!(2), "{story:?}");
    assert_eq!(story[6].2, json!(3), "{story:?}");
    assert_eq!(story[8].1, 503, "{story:?}");
    assert_eq!(
        story[10],
        ("unseal with the printed key", 200, json!(false))
    );
    assert_eq!(
        story[11],
        ("read after unseal", 200, json!("before-rotation"))
    );

    // `bao server -dev` tells the same story.
    if let Some(bao) = Server::openbao_dev() {
        assert_eq!(dev_keyring_story(&bao), story);
    }
}
