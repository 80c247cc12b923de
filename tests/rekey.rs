//! Rekeying the unseal key (`sys/rekey/init|update|verify`), as Vault:
//! see <https://developer.hashicorp.com/vault/api-docs/system/rekey> and
//! <https://developer.hashicorp.com/vault/api-docs/system/rekey-verify>.

mod common;

use common::Server;
use serde_json::{json, Value};

fn put(s: &Server, path: &str, body: Value) -> common::Reply {
    s.send("PUT", path, None, Some(body.to_string().into_bytes()))
}

fn get(s: &Server, path: &str) -> common::Reply {
    s.send("GET", path, None, None)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k.as_str().map(String::from))
        .collect()
}

/// An initialized durable server with `n` shares of which `t` unseal,
/// unsealed with `keys`: (server, keys).
fn unsealed(dir: &std::path::Path, n: u8, t: u8) -> (Server, Vec<String>) {
    let s = Server::durable(dir);
    let init = put(
        &s,
        "sys/init",
        json!({"secret_shares": n, "secret_threshold": t}),
    );
    let keys = strings(&init.json["keys"]);
    unseal(&s, &keys[..usize::from(t)]);
    (s, keys)
}

fn unseal(s: &Server, keys: &[String]) -> Value {
    let mut last = Value::Null;
    for key in keys {
        last = put(s, "sys/unseal", json!({ "key": key })).json;
    }
    last
}

/// Starts a rekey to `n`/`t` and completes it with `old` keys: the answer.
fn rekey(s: &Server, old: &[String], n: u8, t: u8, verify: bool) -> Value {
    let started = put(
        s,
        "sys/rekey/init",
        json!({"secret_shares": n, "secret_threshold": t, "require_verification": verify}),
    );
    assert_eq!(started.status, 200, "{:?}", started.json);
    let nonce = started.json["nonce"].as_str().expect("nonce").to_string();
    let mut last = Value::Null;
    for key in old {
        last = put(s, "sys/rekey/update", json!({"key": key, "nonce": nonce})).json;
    }
    last
}

#[test]
fn new_shares_unseal_after_a_restart_and_the_old_ones_do_not() {
    let dir = common::temp_dir("rekey-restart");
    let (s, old) = unsealed(&dir, 1, 1);
    let idle = get(&s, "sys/rekey/init");
    assert_eq!(
        idle.json,
        json!({"nonce": "", "started": false, "t": 0, "n": 0, "progress": 0, "required": 1,
               "pgp_fingerprints": null, "backup": false, "verification_required": false})
    );
    let done = rekey(&s, &old, 3, 2, false);
    assert_eq!(done["complete"], true, "{done:?}");
    assert_eq!(done["verification_required"], false);
    assert!(done.get("verification_nonce").is_none());
    assert_eq!(done["pgp_fingerprints"], Value::Null);
    let new = strings(&done["keys"]);
    assert_eq!(new.len(), 3);
    assert_eq!(strings(&done["keys_base64"]).len(), 3);
    let status = get(&s, "sys/seal-status").json;
    assert_eq!(
        (status["t"].clone(), status["n"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(get(&s, "sys/rekey/init").json["started"], false);
    s.stop();

    let s = Server::durable(&dir);
    // The old key is now taken for one of two shares, and spoils the pair.
    let refused = unseal(&s, &[old[0].clone(), new[0].clone()]);
    assert_eq!(refused["sealed"], Value::Null, "{refused:?}");
    assert_eq!(get(&s, "sys/seal-status").json["sealed"], true);
    let after = unseal(&s, &[new[0].clone(), new[2].clone()]);
    assert_eq!(after["sealed"], false, "{after:?}");
}

#[test]
fn with_verification_the_new_shares_count_only_once_proven() {
    let dir = common::temp_dir("rekey-verify");
    let (s, old) = unsealed(&dir, 3, 2);
    let done = rekey(&s, &old[..2], 2, 2, true);
    assert_eq!(done["verification_required"], true, "{done:?}");
    let verification = done["verification_nonce"]
        .as_str()
        .expect("verification nonce")
        .to_string();
    let new = strings(&done["keys"]);
    let new_b64 = strings(&done["keys_base64"]);

    // Until verified, the old shares are still the ones in force.
    let init = get(&s, "sys/rekey/init").json;
    assert_eq!(init["verification_nonce"], verification.as_str());
    let again = put(
        &s,
        "sys/rekey/update",
        json!({"key": old[0], "nonce": init["nonce"]}),
    );
    assert_eq!(
        again.errors(),
        [format!(
            "rekey operation already finished; verification must be performed; nonce for the verification operation is \"{verification}\""
        )]
    );
    assert_eq!(get(&s, "sys/seal-status").json["n"], 3);

    let verify =
        |key: &str, nonce: &str| put(&s, "sys/rekey/verify", json!({"key": key, "nonce": nonce}));
    assert_eq!(
        verify(&new[0], "wrong").errors(),
        [format!(
            "incorrect nonce supplied; nonce for this verify operation is \"{verification}\""
        )]
    );
    let first = verify(&new[0], &verification);
    assert_eq!(
        first.json,
        json!({"nonce": verification, "started": true, "t": 2, "n": 2, "progress": 1})
    );
    assert_eq!(
        verify(&new[0], &verification).errors(),
        ["given key has already been provided during this verify operation"]
    );
    // Old shares do not verify the new key: the verification starts over.
    let wrong = verify(&old[1], &verification);
    assert_eq!(wrong.status, 400, "{:?}", wrong.json);
    let restarted = get(&s, "sys/rekey/verify").json;
    assert_ne!(restarted["nonce"], verification.as_str());
    assert_eq!(restarted["progress"], 0);
    let cancelled = s.send("DELETE", "sys/rekey/verify", None, None);
    assert_eq!(cancelled.status, 200);
    let nonce = cancelled.json["nonce"].as_str().expect("nonce").to_string();
    assert_ne!(json!(nonce), restarted["nonce"]);

    verify(&new[1], &nonce);
    let complete = verify(&new_b64[0], &nonce);
    assert_eq!(complete.json, json!({"nonce": nonce, "complete": true}));
    assert_eq!(
        get(&s, "sys/rekey/verify").errors(),
        ["no rekey configuration found"]
    );
    assert_eq!(get(&s, "sys/seal-status").json["n"], 2);
    s.stop();

    let s = Server::durable(&dir);
    let refused = unseal(&s, &old[..2]);
    assert_eq!(refused["sealed"], Value::Null, "old shares: {refused:?}");
    assert_eq!(unseal(&s, &new)["sealed"], false);
}

#[test]
fn refusals_have_vaults_texts() {
    let dir = common::temp_dir("rekey-refusals");
    let (s, old) = unsealed(&dir, 1, 1);
    let init = |body: Value| put(&s, "sys/rekey/init", body).errors();
    assert_eq!(
        init(json!({"secret_shares": 3, "secret_threshold": 2, "pgp_keys": ["x"]})),
        ["incorrect number of PGP keys for rekey"]
    );
    assert_eq!(
        init(json!({"secret_shares": 3, "secret_threshold": 2, "backup": true})),
        ["cannot request a backup of the new keys without providing PGP keys for encryption"]
    );
    for (n, t, reason) in [
        (3, 4, "threshold cannot be larger than shares"),
        (
            3,
            1,
            "threshold must be greater than one for multiple shares",
        ),
        (0, 0, "shares must be at least one"),
        (300, 2, "shares must be less than 256"),
    ] {
        let reply = put(
            &s,
            "sys/rekey/init",
            json!({"secret_shares": n, "secret_threshold": t}),
        );
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.errors(),
            [format!("invalid rekey seal configuration: {reason}")]
        );
    }
    let update = |body: Value| put(&s, "sys/rekey/update", body).errors();
    assert_eq!(
        update(json!({"key": old[0], "nonce": "x"})),
        ["no barrier rekey in progress"]
    );
    assert_eq!(
        put(&s, "sys/rekey/verify", json!({"key": old[0], "nonce": "x"})).errors(),
        ["no rekey in progress"]
    );
    let started = put(
        &s,
        "sys/rekey/init",
        json!({"secret_shares": 3, "secret_threshold": 2}),
    );
    let nonce = started.json["nonce"].as_str().expect("nonce").to_string();
    assert_eq!(
        started.json,
        json!({"nonce": nonce, "started": true, "t": 2, "n": 3, "progress": 0, "required": 1,
               "pgp_fingerprints": null, "backup": false, "verification_required": false})
    );
    assert_eq!(
        init(json!({"secret_shares": 3, "secret_threshold": 2})),
        ["rekey already in progress"]
    );
    assert_eq!(
        update(json!({"key": old[0], "nonce": "bad"})),
        [format!(
            "incorrect nonce supplied; nonce for this rekey operation is \"{nonce}\""
        )]
    );
    assert_eq!(
        update(json!({"nonce": nonce})),
        ["'key' must be specified in request body as JSON"]
    );
    assert_eq!(
        update(json!({"key": "zz", "nonce": nonce})),
        ["'key' must be a valid hex or base64 string"]
    );
    let threshold_two = put(&s, "sys/rekey/init", json!({})).status;
    assert_eq!(threshold_two, 400);
    // A key that is not the unseal key aborts this round, not the rekey.
    let wrong = put(
        &s,
        "sys/rekey/update",
        json!({"key": hex::encode([7u8; 32]), "nonce": nonce}),
    );
    assert_eq!(wrong.status, 400, "{:?}", wrong.json);
    assert_eq!(get(&s, "sys/rekey/init").json["progress"], 0);
    assert_eq!(s.send("DELETE", "sys/rekey/init", None, None).status, 204);
    assert_eq!(get(&s, "sys/rekey/init").json["started"], false);
}

#[test]
fn of_concurrent_final_shares_exactly_one_completes_the_rekey() {
    let dir = common::temp_dir("rekey-race");
    let (s, keys) = unsealed(&dir, 3, 2);
    let started = put(
        &s,
        "sys/rekey/init",
        json!({"secret_shares": 1, "secret_threshold": 1}),
    );
    let nonce = started.json["nonce"].as_str().expect("nonce").to_string();
    put(
        &s,
        "sys/rekey/update",
        json!({"key": keys[0], "nonce": nonce}),
    );
    let repeated = put(
        &s,
        "sys/rekey/update",
        json!({"key": keys[0], "nonce": nonce}),
    );
    assert_eq!(
        repeated.errors(),
        ["given key has already been provided during this generation operation"]
    );
    // Eight holders race to send the second share, half with each key.
    let replies: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let key = keys[1 + i % 2].clone();
                let (s, nonce) = (&s, &nonce);
                scope.spawn(move || {
                    put(s, "sys/rekey/update", json!({"key": key, "nonce": nonce})).json
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let completed: Vec<&Value> = replies.iter().filter(|r| r["complete"] == true).collect();
    assert_eq!(completed.len(), 1, "{replies:?}");
    let new = strings(&completed[0]["keys"]);
    s.stop();
    let s = Server::durable(&dir);
    assert_eq!(unseal(&s, &new)["sealed"], false);
}

#[test]
fn the_unseal_key_a_dev_server_prints_rekeys_it() {
    let s = Server::dev();
    let answer = rekey(&s, &[s.dev_unseal_key()], 3, 2, false);
    assert_eq!(answer["complete"], true, "{answer:?}");
    let new = strings(&answer["keys"]);
    assert_eq!(s.write("sys/seal", json!({})).status, 204);
    assert_eq!(unseal(&s, &new[..1])["sealed"], true);
    assert_eq!(unseal(&s, &new[1..])["sealed"], false);
}
